"""Writes that undo themselves: ``context.storage``, journalled storage over fsspec.

Every object or folder a step creates or replaces through :class:`Storage` is journalled
*before* it is touched (its canonical URL, and the previous content when it is replaced)
and *after* (size and sha256). The SDK then undoes those writes itself when the run rolls
back, after the step's own ``rollback``: see :func:`undo_writes`.
"""

from synapse_sdk.plugins.steps.undo import register_recorded_undo
from synapse_sdk.storage.journalled import STORAGE_KEY, Storage, StoredObject
from synapse_sdk.storage.undo import UndoReport, undo_step_writes, undo_writes
from synapse_sdk.storage.urls import canonical_url, open_url

register_recorded_undo(STORAGE_KEY, undo_step_writes)

__all__ = [
    "STORAGE_KEY",
    "Storage",
    "StoredObject",
    "UndoReport",
    "canonical_url",
    "open_url",
    "undo_writes",
]
