"""The SDK's exception hierarchy.

Every error the SDK raises on purpose derives from :class:`SynapseError`, so callers
can catch the SDK's errors in one place. The tree::

    SynapseError
    ├── StepExecutionError (also RuntimeError)  a step failed; the run was rolled back
    ├── InvalidParamsError (also ValueError)    action params failed validation
    ├── ActionNotFoundError (also LookupError)  no installed action has that name
    ├── PluginLoadError                         a plugin could not be loaded (strict mode)
    ├── PluginHookError                         a plugin's hook raised or returned nonsense
    ├── FanOutError                             items of ``context.map`` failed
    └── ExecutorError                           an executor (Ray) is missing or unreachable

One interrupt lives beside the tree: :class:`RunTerminated` (a ``SystemExit`` with code
143) is raised in a run that receives SIGTERM, so that it rolls back like Ctrl-C does.

Messages are written for the person running the action: they say what is wrong and
what to do about it. Causes are always chained (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse_sdk.plugins.steps.base import StepResult

__all__ = [
    "SynapseError",
    "StepExecutionError",
    "InvalidParamsError",
    "ActionNotFoundError",
    "PluginLoadError",
    "PluginHookError",
    "FanOutError",
    "ItemFailure",
    "ExecutorError",
    "RunTerminated",
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
        result: StepResult | None = None,
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


class ExecutorError(SynapseError):
    """The requested executor cannot be used: Ray is not installed, or unreachable."""


class RunTerminated(SystemExit):
    """The run received SIGTERM; it was rolled back like a Ctrl-C. Exit code 143."""

    def __init__(self) -> None:
        super().__init__(143)

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunTerminated, ())

    def __str__(self) -> str:
        return "terminated (SIGTERM)"
