"""Rolling back one step: its own ``rollback``, then the SDK's undo of its storage writes.

What a step wrote through ``context.storage`` is journalled under
:data:`~synapse_sdk.storage.STORAGE_KEY` and undone by the storage layer, not by the step.
The orchestrator and recovery both roll a step back through :func:`roll_back`.
"""

from __future__ import annotations

from typing import Any

from synapse_sdk.engine.base import BaseStep
from synapse_sdk.engine.result import StepResult
from synapse_sdk.storage import STORAGE_KEY, undo_step_writes

__all__ = ["roll_back"]


def roll_back(step: BaseStep[Any], context: Any, result: StepResult) -> bool:
    """Call ``step.rollback``, then undo what the step wrote through ``context.storage``.

    The storage undo runs even when the step's own rollback raised an error (it undoes
    other things); that error is then raised, after both. An interrupt (Ctrl-C, a signal)
    is raised at once: the user asked to stop, and the run is left for ``synapse runs
    rollback``. Returns whether there was anything to undo: the step has a rollback of
    its own, or wrote through ``context.storage``.
    """
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
