"""The undo area: where the previous content of replaced objects waits for the run's end.

It lies beside the run journal (``$SYNAPSE_HOME/undo/RUN_ID/``, private to the user), so
a rollback after ``kill -9`` finds it; a run without a journal uses the temporary folder.
Once the run is settled (succeeded, or rolled back for good) the area is deleted.

A copy is on disk before the journal names it (:func:`sync_to_disk`): the journal commits
with ``synchronous=FULL`` so that a power loss cannot lose a record, and a record naming a
copy the power loss emptied would restore nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from synapse_sdk.runtime.settings import Settings

__all__ = ["discard_undo_area", "sync_to_disk", "undo_area", "undo_area_path"]


def _root(settings: Settings, journalled: bool) -> Path:
    if not journalled:
        import tempfile  # deferred, with shutil below: most imports of the engine never need them

        return Path(tempfile.gettempdir()) / "synapse-undo"
    return settings.undo_root


def undo_area_path(settings: Settings, run_id: str | None, *, journalled: bool) -> Path:
    """Where the undo area of a run is (it may not exist)."""
    return _root(settings, journalled) / (run_id or f"unjournalled-{os.getpid()}")


def sync_to_disk(path: Path) -> None:
    """Flush ``path`` and its folder's entry for it to disk (``fsync`` of both)."""
    for target, flags in ((path, os.O_RDONLY), (path.parent, os.O_RDONLY | os.O_DIRECTORY)):
        descriptor = os.open(target, flags)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def undo_area(settings: Settings, run_id: str | None, *, journalled: bool) -> Path:
    """The undo area of a run, created (owner-only, on disk) if needed."""
    area = undo_area_path(settings, run_id, journalled=journalled)
    if not area.is_dir():
        missing = [folder for folder in (area, *area.parents) if not folder.is_dir()]
        area.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in reversed(missing):  # each new folder's entry in its parent
            sync_to_disk(folder)
    return area


def discard_undo_area(settings: Settings, run_id: str) -> None:
    """Delete a settled run's undo area (nothing happens if it has none)."""
    import shutil

    shutil.rmtree(_root(settings, True) / run_id, ignore_errors=True)
