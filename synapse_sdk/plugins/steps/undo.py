"""Rolling back one step: its own ``rollback``, then the SDK's undo of what it recorded.

Some rollback data is the SDK's to undo, not the step's: what a step wrote through
``context.storage`` is journalled under :data:`~synapse_sdk.plugins.steps.context.STORAGE_KEY`
and undone by the storage layer. Such layers register their undo here, by key, so the
engine calls them without importing them; a layer named in :data:`_PROVIDERS` is loaded
the first time its key turns up (recovery, in a fresh process, has not loaded it yet).
The orchestrator and recovery both roll a step back through :func:`roll_back`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from synapse_sdk.plugins.steps.base import BaseStep, StepResult
from synapse_sdk.plugins.steps.context import STORAGE_KEY

__all__ = ["RecordedUndo", "register_recorded_undo", "roll_back"]

RecordedUndo = Callable[[Any, Any], None]
"""``undo(context, recorded_value)``: undoes what was recorded under one key."""

_UNDO_BY_KEY: dict[str, RecordedUndo] = {}
_PROVIDERS = {STORAGE_KEY: "synapse_sdk.storage"}
"""The module that registers the undo of each of the SDK's own keys when imported."""


def register_recorded_undo(key: str, undo: RecordedUndo) -> None:
    """Call ``undo`` with the value of ``key`` whenever a step that recorded it rolls back."""
    _UNDO_BY_KEY[key] = undo


def roll_back(step: BaseStep[Any], context: Any, result: StepResult) -> bool:
    """Call ``step.rollback``, then undo what it recorded under registered keys.

    The registered undo runs even when the step's own rollback raised an error (it undoes
    other things); that error is then raised, after both. An interrupt (Ctrl-C, a signal)
    is raised at once: the user asked to stop, and the run is left for ``synapse runs
    rollback``. Returns whether there was anything to undo: the step has a rollback of
    its own, or recorded something the SDK undoes.
    """
    recorded = [key for key in _PROVIDERS if result.rollback_data.get(key)]
    try:
        step.rollback(context, result)
    except Exception:
        _undo_recorded(context, result)
        raise
    _undo_recorded(context, result)
    return step.has_rollback or bool(recorded)


def _undo_recorded(context: Any, result: StepResult) -> None:
    for key, provider in _PROVIDERS.items():
        if key in result.rollback_data and key not in _UNDO_BY_KEY:
            importlib.import_module(provider)
    for key, undo in _UNDO_BY_KEY.items():
        value = result.rollback_data.get(key)
        if value:
            undo(context, value)
