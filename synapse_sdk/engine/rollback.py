"""Rolling back: one step (its own ``rollback``, then the SDK's undo of its storage writes),
and a list of steps, newest first, each reported, logged and journalled the same way.

What a step wrote through ``context.storage`` is journalled under
:data:`~synapse_sdk.storage.STORAGE_KEY` and undone by the storage layer, not by the step.
The orchestrator (after a failure or an interrupt) and recovery (``synapse runs rollback``
after a crash) both roll back through :func:`roll_back_steps`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ParamSpec

from synapse_sdk.engine.base import BaseStep
from synapse_sdk.engine.progress import FROZEN_PROGRESS
from synapse_sdk.engine.result import StepResult
from synapse_sdk.errors import describe_error
from synapse_sdk.interrupts import raise_wrapped_interrupt

if TYPE_CHECKING:
    from synapse_sdk.engine.context import BaseStepContext
    from synapse_sdk.runtime.context import RuntimeContext

__all__ = ["error_text", "journal_safely", "roll_back", "roll_back_steps"]

Args = ParamSpec("Args")


def error_text(exc: BaseException) -> str:
    """What a failed or interrupted step's error says: the message, or the type's name."""
    return str(exc) or type(exc).__name__


def roll_back(step: BaseStep[Any], context: Any, result: StepResult) -> bool:
    """Call ``step.rollback``, then undo what the step wrote through ``context.storage``.

    The storage undo runs even when the step's own rollback raised an error (it undoes
    other things); that error is then raised, after both. An interrupt (Ctrl-C, a signal)
    is raised at once: the user asked to stop, and the run is left for ``synapse runs
    rollback``. Returns whether there was anything to undo: the step has a rollback of
    its own, or wrote through ``context.storage``.
    """
    # Deferred: storage loads when a run rolls back, not with every import of the step API.
    from synapse_sdk.storage import STORAGE_KEY, undo_step_writes

    writes = result.rollback_data.get(STORAGE_KEY)
    try:
        step.rollback(context, result)
    except Exception:
        if writes:
            undo_step_writes(context, writes)
        raise
    if writes:
        undo_step_writes(context, writes)
    return step.has_rollback or bool(writes)


def roll_back_steps(
    context: BaseStepContext, to_undo: Sequence[tuple[str, BaseStep[Any], StepResult]]
) -> list[str]:
    """Roll back each ``(name, step, result)`` in the order given; keep going past failures.

    ``name`` is the step's name in the run (in its journal): the step's own, except for a
    run journalled by an older SDK under a wrapper's name, which recovery keeps.

    Each step gets what it recorded as it went (``context.recorded_rollback``) merged under
    the rollback data of its result, whose keys win. Each outcome is a step event
    (``rolled_back``, with whether there was anything to undo, or ``rollback_failed`` with
    the error as ``Type: message``), a log line (``rolled_back`` or ``rollback_failed``),
    and a journal record; a
    journal write that fails is logged and the rollback goes on (the run then stays
    ``needs_rollback``, which is the truth). Overall progress does not move. Returns one
    line per rollback that raised, naming the step (also appended to ``context.errors``).
    """
    runtime = context.runtime_ctx
    recorder = runtime.recorder
    failures: list[str] = []
    with runtime.progress_scope(FROZEN_PROGRESS):
        for name, step, result in to_undo:
            recorded = context.recorded_rollback.get(name)
            if recorded:
                result = replace(result, rollback_data={**recorded, **result.rollback_data})
            context.current_step = name
            try:
                undone = roll_back(step, context, result)
            except Exception as exc:
                raise_wrapped_interrupt(exc)  # a second signal in disguise: stop, as for one
                error = describe_error(exc)
                line = f"rollback of step '{name}' failed: {error}"
                context.errors.append(line)
                failures.append(line)
                runtime.report_step(name, "rollback_failed", error)
                runtime.log(
                    "rollback_failed", {"error": str(exc)}, step=name, level="error", exc=exc
                )
                if recorder is not None:
                    journal_safely(runtime, recorder.rollback_failed, name, error)
            else:
                runtime.report_step(name, "rolled_back", undone=undone)
                runtime.log("rolled_back", {"undone": undone}, step=name)
                if recorder is not None:
                    journal_safely(runtime, recorder.step_rolled_back, name)
            finally:
                context.current_step = None
    return failures


def journal_safely(
    runtime: RuntimeContext,
    write: Callable[Args, None],
    *args: Args.args,
    **kwargs: Args.kwargs,
) -> None:
    """Make a rollback-time journal write; if it fails, log it and let the rollback go on."""
    try:
        write(*args, **kwargs)
    except Exception as exc:
        runtime.log("journal_write_failed", {"error": str(exc)}, level="error", exc=exc)
