"""The SDK's exception hierarchy.

Every error the SDK raises on purpose derives from :class:`SynapseError`, so callers
can catch the SDK's errors in one place. The tree::

    SynapseError
    ├── StepExecutionError (also RuntimeError)  a step failed; the run was rolled back
    ├── StepInputError                          a step found its input unusable (exit 2)
    ├── InvalidParamsError (also ValueError)    action params failed validation
    │   └── ParamsTooLargeError                 params too large to journal
    ├── ActionNotFoundError (also LookupError)  no installed action has that name
    ├── ActionConflictError (also LookupError)  two distributions install that action name
    ├── PluginLoadError                         a plugin could not be loaded (strict mode)
    ├── PluginHookError                         a plugin's hook raised or returned nonsense
    ├── ActionLoadError                         an installed action's entry point fails
    ├── ScaffoldError (also ValueError)         ``synapse new plugin`` cannot create it
    ├── RunInUseError                           another live process owns the run
    ├── JournalError                            the run journal cannot be read or written
    ├── RecoveryError                           a run cannot be rolled back from the journal
    ├── UndoIncompleteError (also OSError)      a write the undo could not undo
    ├── FanOutError                             items of ``context.map`` failed
    └── ExecutorError                           an executor (Ray) is missing or unreachable

Three interrupts live beside the tree, as ``BaseException`` so that no ``except
Exception`` in a step swallows them: :class:`RunTerminated` (a ``SystemExit`` with code
143 for SIGTERM, 129 for SIGHUP) is raised in a run that receives one of those signals, so
that it rolls back like Ctrl-C does; :class:`RunAbandoned` is raised by a second signal
while a run is stopping, and leaves its rollback to ``synapse runs rollback``;
:class:`StepTimeout` is raised inside a step that ran past its ``TimeoutStep`` limit.

:func:`describe_error` is the one way an error becomes a line of text (``Type: message``)
in events, the journal and the terminal.

Messages are written for the person running the action: they say what is wrong and
what to do about it. Causes are always chained (``raise ... from exc``).
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "SynapseError",
    "StepExecutionError",
    "StepInputError",
    "InvalidParamsError",
    "InvalidResultError",
    "PipelineError",
    "PipelineFailedError",
    "ActionNotFoundError",
    "ActionConflictError",
    "PluginLoadError",
    "PluginHookError",
    "FanOutError",
    "ItemFailure",
    "ExecutorError",
    "ParamsTooLargeError",
    "RunInUseError",
    "ActionLoadError",
    "ScaffoldError",
    "JournalError",
    "RecoveryError",
    "UndoIncompleteError",
    "RunTerminated",
    "RunAbandoned",
    "StepTimeout",
    "describe_error",
]


def _rebuild(
    cls: type[BaseException],
    args: tuple[Any, ...],
    state: dict[str, Any],
    cause: BaseException | None = None,
) -> Any:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    exc.__cause__ = cause
    return exc


def _portable_cause(cause: BaseException | None) -> BaseException | None:
    """``cause`` if it pickles, else an Exception with its text (the chain survives)."""
    if cause is None:
        return None
    import pickle

    try:
        pickle.dumps(cause)
    except Exception:
        return Exception(f"{type(cause).__name__}: {cause}")
    return cause


class SynapseError(Exception):
    """Base class of every error the SDK raises on purpose.

    Every SDK error pickles with its attributes and its ``__cause__`` intact, so an error
    raised on a Ray worker reaches the caller as the same type with the same fields.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        cause = _portable_cause(self.__cause__)
        return (_rebuild, (type(self), self.args, dict(self.__dict__), cause))


class FailedStepResult(Protocol):
    """What :class:`StepExecutionError` keeps of the failed step: its ``StepResult``."""

    @property
    def success(self) -> bool: ...

    @property
    def error(self) -> str | None: ...

    @property
    def rollback_data(self) -> dict[str, Any]: ...


class StepExecutionError(SynapseError, RuntimeError):
    """A step failed and the steps that had run were rolled back.

    Attributes:
        step: name of the step that failed.
        error: the failure text (the step's ``StepResult.error`` or the exception text).
        result: the failed step's result, as passed to its ``rollback``.
        rollback_errors: one line per rollback that raised, naming the step.
    """

    def __init__(
        self,
        step: str,
        error: str,
        *,
        result: FailedStepResult | None = None,
        rollback_errors: Sequence[str] = (),
    ) -> None:
        self.step = step
        self.error = error
        self.result = result
        self.rollback_errors = list(rollback_errors)
        message = f"step '{step}' failed: {error}"
        if self.rollback_errors:
            message += f" ({len(self.rollback_errors)} rollback(s) also failed)"
        super().__init__(message)


class InvalidResultError(StepExecutionError):
    """The steps of an action handed on a result its ``result_model`` rejects.

    Raised when the last step has finished, so the run fails and everything it did is
    rolled back: a pipeline must not hand an incomplete result to the next action.
    ``step`` is ``'result'``; ``problems`` lists ``(field, reason)`` pairs.
    """

    def __init__(self, action: str, problems: Sequence[tuple[str, str]]) -> None:
        self.action = action
        self.problems = list(problems)
        lines = "\n".join(f"  - {field}: {reason}" for field, reason in self.problems)
        super().__init__(
            "result",
            f"action '{action}' handed on an invalid result (its result_model):\n{lines}\n"
            "its steps set the result with context.set_result(name=value)",
        )
        self.args = (self.error,)  # not "step 'result' failed": there is no such step

    def __str__(self) -> str:
        return self.error


class StepInputError(SynapseError):
    """A step found its input unusable: the user's to fix, not a bug in the step.

    Raise it from a step's ``execute`` when what the params point at is wrong (a source
    that does not exist, a file in the wrong format), with a message that says what to
    change. The run fails and is rolled back like any failure (the orchestrator raises
    :class:`StepExecutionError` from it), but ``synapse run`` reports it as bad input:
    exit 2 with the message and no traceback, as for invalid params.
    """


class InvalidParamsError(SynapseError, ValueError):
    """Action params failed validation.

    Attributes:
        action: the action's name.
        problems: one ``(field, reason)`` pair per bad field, in plain words.
    """

    def __init__(self, action: str, problems: Sequence[tuple[str, str]]) -> None:
        self.action = action
        self.problems = list(problems)
        lines = "\n".join(f"  - {field}: {reason}" for field, reason in self.problems)
        super().__init__(f"invalid params for action '{action}':\n{lines}")


class ActionNotFoundError(SynapseError, LookupError):
    """No installed action has the requested name."""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        self.name = name
        self.available = sorted(available)
        if self.available:
            hint = f"installed actions: {', '.join(self.available)}"
        else:
            hint = "no actions are installed (install a plugin package that provides some)"
        super().__init__(f"unknown action '{name}'; {hint}")


class ActionConflictError(SynapseError, LookupError):
    """Two or more installed distributions provide an action under the same name.

    Neither is picked: which one runs would depend on the order of ``sys.path``.

    Attributes:
        name: the action name they share.
        distributions: ``(distribution, version)`` of each, sorted by distribution.
        strict: raised because ``SYNAPSE_STRICT_PLUGINS`` is on (for a name not asked for).
    """

    def __init__(
        self, name: str, distributions: Sequence[tuple[str, str | None]], *, strict: bool = False
    ) -> None:
        self.name = name
        self.distributions = sorted(distributions)
        self.strict = strict
        listed = ", ".join(
            f"{dist} {version}" if version else dist for dist, version in self.distributions
        )
        choices = " or ".join(f"'{dist}:{name}'" for dist, _ in self.distributions)
        last = self.distributions[-1][0]
        hide = (
            f"hide one with SYNAPSE_DISABLE_PLUGINS={last}:{name}, or uninstall it "
            f"(pip uninstall {last})"
        )
        if strict:
            remedy = f", and SYNAPSE_STRICT_PLUGINS is on: {hide}"
        else:
            remedy = f". Name the one to run with its distribution ({choices}), or {hide}"
        super().__init__(
            f"action '{name}' is installed by {len(self.distributions)} distributions: "
            f"{listed}{remedy}"
        )


class PluginLoadError(SynapseError):
    """A plugin failed to load while ``SYNAPSE_STRICT_PLUGINS=1`` is set."""


class PluginHookError(SynapseError):
    """A plugin's ``synapse_setup_steps`` or ``synapse_wrap_step`` raised or returned nonsense.

    Attributes:
        plugin: the plugin's registered name (its entry-point name when installed).
        hook: the hook that failed.
    """

    def __init__(self, plugin: str, hook: str, message: str) -> None:
        self.plugin = plugin
        self.hook = hook
        super().__init__(
            f"plugin '{plugin}' failed in {hook}: {message}. "
            f"Fix or update the plugin, or disable it with SYNAPSE_DISABLE_PLUGINS={plugin}."
        )


@dataclass(frozen=True)
class ItemFailure:
    """One item of a fan-out that raised: its position, a short repr, and the error text."""

    index: int
    item: str
    error: str


class FanOutError(SynapseError):
    """Some items of a ``context.map`` fan-out failed.

    Every item that could run did run; the ones that succeeded are in ``results`` (and
    recorded for rollback), the others are ``None`` there.

    Attributes:
        failures: one :class:`ItemFailure` per failed item, in item order.
        results: the per-item results, ``None`` where the item failed or never ran.
        total: how many items the fan-out had.
    """

    SHOWN = 5

    def __init__(self, failures: Sequence[ItemFailure], results: Sequence[Any], total: int) -> None:
        self.failures = list(failures)
        self.results = list(results)
        self.total = total
        shown = "; ".join(
            f"item {failure.index} ({failure.item}): {failure.error}"
            for failure in self.failures[: self.SHOWN]
        )
        more = len(self.failures) - self.SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.failures)} of {total} items failed: {shown}{tail}")


class ParamsTooLargeError(InvalidParamsError):
    """The params are too large to journal; large data belongs in files named by the params."""

    def __init__(self, action: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            action,
            [
                (
                    "(all params)",
                    f"{size:,} bytes as JSON, over the journal's limit of {limit:,}; put large "
                    "data in a file and pass its path or URL",
                )
            ],
        )


class RunInUseError(SynapseError):
    """Another live process owns the run (running it, or rolling it back).

    Attributes:
        run_id: the run.
        state: ``running`` or ``rolling_back``.
        pid: the process that owns it.
        host: the machine that process runs on.
    """

    def __init__(self, run_id: str, state: str, pid: int, host: str) -> None:
        self.run_id = run_id
        self.state = state
        self.pid = pid
        self.host = host
        doing = "being rolled back" if state == "rolling_back" else "running"
        super().__init__(
            f"run {run_id} is {doing} by pid {pid} on {host}; wait for it to finish, then "
            f"check 'synapse runs show {run_id}'"
        )


class PipelineError(SynapseError, ValueError):
    """A pipeline cannot run as defined: a bad file, an unknown action, a param no one feeds.

    Raised before anything runs; the message names the action, the field and the fix.
    """


class PipelineFailedError(SynapseError):
    """An action of a pipeline failed; what it and the actions before it did is settled.

    Attributes:
        run_id: the pipeline's run id.
        action: the id of the action that failed.
        state: the pipeline run's final state: ``rolled_back`` (everything undone),
            ``failed`` (``keep_completed``: the actions before it kept their outputs;
            ``synapse runs resume`` continues), ``rollback_failed`` or ``needs_rollback``.
        error: why the action failed.
    """

    def __init__(self, run_id: str, action: str, state: str, error: str) -> None:
        self.run_id = run_id
        self.action = action
        self.state = state
        self.error = error
        super().__init__(f"action '{action}' of pipeline run {run_id} failed ({state}): {error}")


class ExecutorError(SynapseError):
    """The requested executor cannot be used: Ray is not installed, or unreachable."""


class ActionLoadError(SynapseError):
    """An action is installed but its entry point cannot be loaded."""


class ScaffoldError(SynapseError, ValueError):
    """The plugin cannot be created (bad name, or the directory exists)."""


class JournalError(SynapseError):
    """The journal cannot be opened, read or written (corrupt, locked, unwritable)."""


class RecoveryError(SynapseError):
    """The run cannot be rolled back from the journal (unknown, not unfinished, missing secrets)."""


class UndoIncompleteError(SynapseError, OSError):
    """A rollback could not undo every write: an object it created is still there after
    its deletion (refused by the store), or one it replaced could not be restored.

    Attributes:
        report: what the undo did do (a ``synapse_sdk.storage.UndoReport``), if known.
    """

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class StepTimeout(BaseException):
    """Raised inside a step that ran past its time limit (a BaseException, so that the
    step's own ``except Exception`` cannot swallow it)."""


def describe_error(exc: BaseException) -> str:
    """``exc`` as one line, ``Type: message`` (just ``Type`` when the message is empty)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class RunTerminated(SystemExit):
    """The run received SIGTERM (exit 143) or SIGHUP (exit 129); it was rolled back.

    A ``SystemExit`` whose code is ``128 + signal number``, as a shell reports a process
    stopped by that signal.

    Attributes:
        signum: the signal that stopped the run.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        self.signum = int(signum)
        super().__init__(128 + self.signum)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.signum,))

    def __str__(self) -> str:
        return f"terminated ({signal.Signals(self.signum).name})"


class RunAbandoned(BaseException):
    """A second signal arrived while the run was stopping: its rollback was abandoned.

    The run is left ``needs_rollback`` in the journal; ``synapse runs rollback RUN_ID``
    finishes it. Not an ``Exception``: nothing may catch it on the way out.

    Attributes:
        signum: the first signal, the one that stopped the run.
        exit_code: what the process exits with (130 for Ctrl-C, 143 SIGTERM, 129 SIGHUP).
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        super().__init__(self.signum)

    def __str__(self) -> str:
        return f"stopped again ({signal.Signals(self.signum).name}) while rolling back"
