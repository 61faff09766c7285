"""Replaced content kept beside the caller's journal when the run's worker is elsewhere.

Before a step replaces an object through ``context.storage``, it copies the previous
content into the run's undo area on the machine it runs on. A run on Ray may run on a
worker whose disk the caller cannot see, and ``synapse runs rollback`` after a crash runs
where the journal is: it would find no copy. So a worker that does not share the caller's
undo area also sends each copy to the caller, which writes it into its own area under the
same name before the replace goes ahead; when the run ends the worker deletes its area.

Whether the two share the area is tested, not guessed from host names or paths (a
forwarded ``SYNAPSE_HOME`` gives the same path string on different machines): the caller
leaves a marker holding a random token in its area, and a worker that reads the same
token there shares it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from synapse_sdk.runtime.settings import Settings
from synapse_sdk.storage.undo_area import sync_to_disk, undo_area, undo_area_path

__all__ = ["copy_chunks", "mark_caller_area", "shares_caller_area", "write_chunk"]

_MARKER = ".caller"
_CHUNK = 4 << 20


def mark_caller_area(settings: Settings, run_id: str) -> str:
    """Leave the caller's marker in the run's undo area; return its token for the worker."""
    token = os.urandom(16).hex()
    (undo_area(settings, run_id, journalled=True) / _MARKER).write_text(token)
    return token


def shares_caller_area(settings: Settings, run_id: str, token: str) -> bool:
    """Whether this worker's undo area of the run is the caller's (same disk, same folder)."""
    try:
        found = (undo_area_path(settings, run_id, journalled=True) / _MARKER).read_text()
    except OSError:
        return False
    return found == token


def copy_chunks(path: str) -> Iterator[tuple[int, bytes, bool]]:
    """The file at ``path`` as ``(offset, data, last)`` pieces to send (one, if empty)."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        offset = 0
        while True:
            data = file.read(_CHUNK)
            last = not data or offset + len(data) >= size  # (a file cut short ends it)
            yield offset, data, last
            if last:
                return
            offset += len(data)


def write_chunk(
    settings: Settings, run_id: str, name: str, offset: int, data: bytes, last: bool
) -> None:
    """Write one piece of a copy sent by a worker into the caller's undo area.

    Writing the same piece again (a message replayed after an interrupt) changes nothing;
    the copy takes its name only once complete.
    """
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"not a kept copy's name: {name!r}")
    area = undo_area(settings, run_id, journalled=True)
    part, final = area / f".{name[:32]}.part", area / name  # as long as the name allows
    if final.exists() and not part.exists():
        sync_to_disk(final)  # complete already (a replay), but maybe not yet on disk
        return
    with open(part, "r+b" if part.exists() else "wb") as file:
        file.seek(offset)
        file.write(data)
        if last:
            file.truncate()
            file.flush()
            os.fsync(file.fileno())
    if last:
        os.replace(part, final)
        sync_to_disk(final)  # the new name, too, before the worker's journal entry names it
