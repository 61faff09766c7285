"""The undo area: where the previous content of replaced objects waits for the run's end.

It lies beside the run journal (``$SYNAPSE_HOME/undo/RUN_ID/``, private to the user), so
a rollback after ``kill -9`` finds it; a run without a journal uses the temporary folder.
Once the run has succeeded or is rolled back, the area is deleted. A run left
``needs_rollback`` keeps it for the rollback to come, and a ``rollback_failed`` run keeps
it for good (until ``synapse runs prune`` removes the run): a restore that failed leaves
the previous content of that object nowhere else.

A copy is on disk before the journal names it (:func:`sync_to_disk`): the journal commits
with ``synchronous=FULL`` so that a power loss cannot lose a record, and a record naming a
copy the power loss emptied would restore nothing.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

from synapse_sdk.runtime.settings import Settings

__all__ = [
    "discard_undo_area",
    "keeps_undo_area",
    "kept_undo_area",
    "sync_file",
    "sync_folder",
    "sync_to_disk",
    "undo_area",
    "undo_area_path",
]


def _root(settings: Settings, journalled: bool) -> Path:
    if not journalled:
        import tempfile  # deferred, with shutil below: most imports of the engine never need them

        return Path(tempfile.gettempdir()) / "synapse-undo"
    return settings.undo_root


def undo_area_path(settings: Settings, run_id: str | None, *, journalled: bool) -> Path:
    """Where the undo area of a run is (it may not exist)."""
    return _root(settings, journalled) / (run_id or f"unjournalled-{os.getpid()}")


# A folder cannot be flushed on some filesystems (network, FUSE, Windows): as SQLite
# does for its own journal, that is no reason to fail the run.
_FOLDER_SYNC_UNSUPPORTED = frozenset(
    {errno.EINVAL, errno.ENOTSUP, errno.EACCES, errno.EPERM, errno.EBADF, errno.EISDIR}
)


def sync_file(path: Path | str) -> None:
    """Flush the content of the file at ``path`` to disk (``fsync``)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_folder(folder: Path | str) -> None:
    """Flush ``folder``'s entries (names created, renamed or removed in it) to disk."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        if exc.errno in _FOLDER_SYNC_UNSUPPORTED:
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in _FOLDER_SYNC_UNSUPPORTED:
            raise
    finally:
        os.close(descriptor)


def sync_to_disk(path: Path) -> None:
    """Flush the file at ``path`` and its folder's entry for it to disk."""
    sync_file(path)
    sync_folder(path.parent)


_synced_areas: set[Path] = set()
"""The undo areas whose folders this process has flushed to disk (once each)."""
_synced_areas_lock = threading.Lock()


def undo_area(settings: Settings, run_id: str | None, *, journalled: bool) -> Path:
    """The undo area of a run, created (owner-only) if needed, its folders on disk.

    The first call for an area in a process flushes the area's entry and its parent's (a
    run resumed in another process may have made the area), under a lock, so that no
    thread journals a copy in an area whose own entry is not on disk yet.
    """
    area = undo_area_path(settings, run_id, journalled=journalled)
    if area in _synced_areas and area.is_dir():
        return area
    with _synced_areas_lock:
        if area not in _synced_areas or not area.is_dir():
            area.mkdir(parents=True, exist_ok=True, mode=0o700)
            for folder in (area, area.parent, area.parent.parent):
                sync_folder(folder)
            _synced_areas.add(area)
    return area


def keeps_undo_area(state: str) -> bool:
    """Whether a run that ended in ``state`` keeps its undo area (see the module doc)."""
    return state in ("needs_rollback", "rollback_failed")


def kept_undo_area(settings: Settings, run_id: str) -> Path | None:
    """The run's undo area if it holds any copy, for telling the user where it is.

    Dot-files there (a Ray caller's marker, a piece still being sent, a restore's marker)
    are not copies.
    """
    area = _root(settings, True) / run_id
    try:
        return area if any(not p.name.startswith(".") for p in area.iterdir()) else None
    except OSError:  # no area
        return None


def discard_undo_area(settings: Settings, run_id: str) -> None:
    """Delete a settled run's undo area (nothing happens if it has none)."""
    import shutil

    area = _root(settings, True) / run_id
    with _synced_areas_lock:
        _synced_areas.discard(area)
        shutil.rmtree(area, ignore_errors=True)
