"""Writes that undo themselves: ``context.storage``, journalled storage over fsspec.

Every object or folder a step creates or replaces through :class:`Storage` is journalled
*before* it is touched (its canonical URL, and the previous content when it is replaced)
and *after* (size and sha256). The SDK then undoes those writes itself when the run rolls
back, after the step's own ``rollback``: see :func:`undo_writes`.

This layer lies below the engine: the engine gives each step context its ``storage`` and
calls :func:`undo_step_writes` when a step rolls back. fsspec loads on first use.
"""

from synapse_sdk.storage.journalled import STORAGE_KEY, Storage, StoredObject
from synapse_sdk.storage.undo import UndoReport, undo_step_writes, undo_writes
from synapse_sdk.storage.urls import canonical_url, open_url

__all__ = [
    "STORAGE_KEY",
    "Storage",
    "StoredObject",
    "UndoReport",
    "canonical_url",
    "undo_step_writes",
    "open_url",
    "undo_writes",
]
