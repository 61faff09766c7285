"""Undoing a step's storage writes from what the journal says about them.

Works from the journalled entries alone (see :data:`~synapse_sdk.storage.STORAGE_KEY`), so
the same code undoes a run in-process, after ``kill -9`` through ``synapse runs
rollback`` from any folder, and on Ray. It looks at the store as it is now (fresh
filesystems, no listings cache), and deletes in bulk, one call per filesystem.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse_sdk.errors import UndoIncompleteError, describe_error
from synapse_sdk.storage.journalled import storage_options
from synapse_sdk.storage.undo_area import sync_folder, sync_to_disk, undo_area_path
from synapse_sdk.storage.urls import fresh_listing, is_local_disk, open_url

__all__ = ["UndoReport", "undo_step_writes", "undo_writes"]

_CHUNK = 1 << 20


@dataclass
class UndoReport:
    """What undoing a step's writes did, by canonical URL."""

    deleted: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    folders_removed: list[str] = field(default_factory=list)
    changed_since: list[str] = field(default_factory=list)
    """Objects whose content is no longer what the run wrote: left in place."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "deleted": len(self.deleted),
            "restored": len(self.restored),
            "folders_removed": len(self.folders_removed),
            "changed_since": self.changed_since,
        }


@dataclass
class _Object:
    url: str
    backup: str | None = None  # set when the run replaced an object that existed
    sha256: str | None = None  # set once the write finished, with size (and md5)
    size: int | None = None
    md5: str | None = None


def _sha256(fs: Any, path: str) -> str:
    import hashlib  # deferred, as in journalled.py: only a rollback that reads back pays

    digest = hashlib.sha256()
    with fs.open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _matches_copy(
    fs: Any, path: str, info: Mapping[str, Any] | None, kept: Path, *, whole: bool
) -> bool:
    """Whether the object at ``path`` holds the kept copy's content (``whole``), or its start.

    The whole of it when an earlier rollback restored the object and was stopped before
    the journal recorded that; its start (or nothing yet) when a restore written in place
    was stopped midway. An object that cannot be read does not match: it is left as it is.
    """
    if not kept.is_file():
        return False
    size = None if info is None else info.get("size")
    if whole and size not in (None, kept.stat().st_size):
        return False
    try:
        with fs.open(path, "rb") as current, kept.open("rb") as copy:
            while chunk := current.read(_CHUNK):
                if copy.read(len(chunk)) != chunk:
                    return False
            return not whole or copy.read(1) == b""
    except OSError:
        return False


def _restoring(kept: Path) -> Path:
    """The marker, beside the kept copy in the undo area, of a restore under way."""
    return kept.parent / f".{kept.name[:32]}.restoring"  # the copy's random id: unique


def _restore(fs: Any, kept: Path, path: str) -> None:
    """Put the kept copy back at ``path``, and have it on disk when this returns.

    Written in place, as the run wrote it: the object keeps its owner, permissions, links
    and attributes, and a symbolic link is written through. On a local disk a marker in
    the undo area says the restore has begun, so that a rollback stopped midway and run
    again finishes it, rather than taking the half-written object for someone else's
    change; the object is flushed before the marker goes. An object store makes one
    upload whole or nothing by itself.
    """
    if not is_local_disk(fs):
        fs.put_file(str(kept), path)
        return
    marker = _restoring(kept)
    marker.touch()
    sync_to_disk(marker)
    fs.put_file(str(kept), path)
    sync_to_disk(Path(os.path.realpath(path)))
    marker.unlink()


def _replay(entries: Iterable[Mapping[str, Any]]) -> tuple[list[_Object], list[str]]:
    """The objects and folders the entries say were touched, in the order they were."""
    objects: dict[str, _Object] = {}
    folders: list[str] = []
    for entry in entries:
        op, url = entry.get("op"), str(entry.get("url"))
        if op == "folder":
            folders.append(url)
        elif op == "folder_not_ours" and url in folders:  # someone else made it first
            folders.remove(url)
        elif op == "create":
            objects.setdefault(url, _Object(url))
        elif op == "replace":
            objects.setdefault(url, _Object(url, backup=str(entry["backup"])))
        elif op == "written" and url in objects:
            obj = objects[url]
            obj.sha256 = str(entry["sha256"])
            obj.size = entry.get("size")
            obj.md5 = entry.get("md5")
    return list(objects.values()), folders


class _Listings:
    """What the store holds now, one fresh listing per folder (not a request per object)."""

    def __init__(self) -> None:
        self._by_folder: dict[tuple[int, str], dict[str, Mapping[str, Any]]] = {}

    def info(self, fs: Any, path: str) -> Mapping[str, Any] | None:
        """The listing entry of ``path`` (name, size, ETag on object stores), or None."""
        folder = posixpath.dirname(path)
        key = (id(fs), folder)
        listed = self._by_folder.get(key)
        if listed is None:
            listed = self._by_folder[key] = fresh_listing(fs, folder)
        return listed.get(path)


def _etag_md5(info: Mapping[str, Any]) -> str | None:
    """The MD5 an object store's ETag gives (objects written in one part), else None."""
    etag = info.get("ETag") or info.get("etag")
    if not isinstance(etag, str):
        return None
    etag = etag.strip('"')
    return etag if len(etag) == 32 and "-" not in etag else None


def _unchanged(fs: Any, path: str, info: Mapping[str, Any], obj: _Object) -> bool:
    """Whether the object at ``path`` still holds what the run wrote.

    A different size settles it; an object store's ETag (the MD5 of an object written in
    one part) settles it without reading; otherwise the content is read back and hashed.
    """
    if obj.size is not None and info.get("size") not in (None, obj.size):
        return False
    listed_md5 = _etag_md5(info)
    if listed_md5 is not None and obj.md5 is not None:
        return listed_md5 == obj.md5
    return _sha256(fs, path) == obj.sha256


def _bucket(fs: Any, path: str) -> str:
    """The bucket of ``path`` on an object store (a bulk delete stays within one)."""
    split = getattr(fs, "split_path", None)
    return str(split(path)[0]) if split is not None else ""


def _still_there(fs: Any, paths: list[str]) -> list[str]:
    """The URLs of ``paths`` that survived a bulk delete.

    Object stores answer a bulk delete with per-key errors that fsspec may not raise
    (S3's quiet ``DeleteObjects``); one fresh listing per folder tells the truth.
    """
    remaining: list[str] = []
    for parent in sorted({posixpath.dirname(path) for path in paths}):
        listed = fresh_listing(fs, parent)
        remaining += [
            path for path in paths if posixpath.dirname(path) == parent and path in listed
        ]
    return [fs.unstrip_protocol(path) for path in remaining]


class _FreshFilesystems:
    """One fresh filesystem per protocol for one undo: no stale cache, and bulk calls."""

    def __init__(self, options: Mapping[str, Any] | None) -> None:
        self._options = options
        self._by_protocol: dict[str, Any] = {}

    def open(self, url: str) -> tuple[Any, str]:
        from fsspec.core import split_protocol  # loaded already: open_url ran before

        protocol = split_protocol(url)[0] or "file"
        fs = self._by_protocol.get(protocol)
        if fs is None:
            fs, path = open_url(url, self._options, fresh=True)
            self._by_protocol[protocol] = fs
            return fs, path
        return fs, fs._strip_protocol(url)


def _kept_copy(backup: str, kept_in: Path | None) -> Path:
    """Where the copy journalled as ``backup`` is on this machine.

    The journal holds the path where the step kept it. A run on a Ray worker elsewhere
    also sent the copy here, under the same name in this machine's undo area ``kept_in``
    (:meth:`~synapse_sdk.runtime.recorder.StepRecorder.kept`), which is where it is
    found when the worker's path is not.
    """
    kept = Path(backup)
    if kept_in is not None and not kept.exists() and (kept_in / kept.name).exists():
        return kept_in / kept.name
    return kept


def undo_writes(
    entries: Iterable[Mapping[str, Any]],
    options: Mapping[str, Any] | None = None,
    *,
    kept_in: Path | None = None,
) -> UndoReport:
    """Undo the writes ``entries`` journal, last first; return what was done.

    * an object the run created is deleted if its content is still what was written, or
      if the write never finished (the run created it and was stopped mid-write);
    * an object the run replaced gets its previous content back, on the same terms;
    * an object whose content changed since is left in place and reported;
    * a folder the run created is removed once empty, deepest first.

    ``kept_in`` is the run's undo area on this machine, where a copy kept by a worker on
    another machine was sent. Copies there stay until the run is settled (the area is
    then deleted): a rollback stopped after a restore, and run again, finds the object
    holding the copy's content and counts it restored, not changed by someone else.
    """
    report = UndoReport()
    objects, folders = _replay(entries)
    filesystems = _FreshFilesystems(options)
    listings = _Listings()
    doomed: dict[tuple[int, str], tuple[Any, list[str]]] = {}  # one bulk delete per bucket
    unrestored: list[str] = []
    undeleted: list[str] = []
    first_error: Exception | None = None
    for obj in reversed(objects):
        fs, path = filesystems.open(obj.url)
        info = listings.info(fs, path)
        exists = info is not None
        kept = None if obj.backup is None else _kept_copy(obj.backup, kept_in)
        changed = (
            info is not None and obj.sha256 is not None and not _unchanged(fs, path, info, obj)
        )
        if changed and kept is not None and _restoring(kept).exists():
            # A restore of ours stopped midway left the start of the copy: it is ours to finish.
            changed = not _matches_copy(fs, path, info, kept, whole=False)
        if kept is not None and not changed:
            try:
                _restore(fs, kept, path)
            except Exception as exc:  # the other objects are still undone; this one reported
                unrestored.append(f"{obj.url} ({describe_error(exc)}; previous content: {kept})")
                first_error = first_error or exc
                continue  # its copy stays, with the previous content
            report.restored.append(obj.url)
        elif changed:
            if kept is not None and _matches_copy(fs, path, info, kept, whole=True):
                report.restored.append(obj.url)
            else:
                report.changed_since.append(obj.url)
                continue  # its copy stays: the previous content may be needed yet
        elif exists:
            doomed.setdefault((id(fs), _bucket(fs, path)), (fs, []))[1].append(path)
            report.deleted.append(obj.url)
        if kept is not None and kept.parent != kept_in:
            kept.unlink(missing_ok=True)  # outside the journalled undo area: no recovery
    changed_folders: set[str] = set()  # on a local disk: flushed before the journal says undone
    for fs, paths in doomed.values():
        fs.rm(paths)
        undeleted += _still_there(fs, paths)
        if is_local_disk(fs):
            changed_folders.update(posixpath.dirname(path) for path in paths)
    for url in reversed(folders):
        fs, path = filesystems.open(url)
        if fs.isdir(path) and not fs.ls(path, detail=False):
            fs.rmdir(path)
            report.folders_removed.append(url)
            if is_local_disk(fs):
                changed_folders.discard(path)
                changed_folders.add(posixpath.dirname(path))
    for folder in sorted(changed_folders):
        if os.path.isdir(folder):
            sync_folder(folder)
    if unrestored or undeleted:
        raise UndoIncompleteError(_incomplete(unrestored, undeleted), report) from first_error
    return report


def _incomplete(unrestored: list[str], undeleted: list[str]) -> str:
    """What an undo could not do, in one message; every other write was undone."""
    parts = []
    if undeleted:
        parts.append(
            f"{len(undeleted)} object(s) the run created could not be deleted (first: "
            f"{', '.join(undeleted[:5])}); check the store's permissions and remove them"
        )
    if unrestored:
        parts.append(
            f"{len(unrestored)} object(s) the run replaced could not get their previous "
            f"content back (first: {unrestored[0]}); the undo area keeps it until the run "
            "is pruned"
        )
    return "; ".join(parts) + "; every other write was undone"


def undo_step_writes(context: Any, entries: Iterable[Mapping[str, Any]]) -> None:
    """Undo a rolling-back step's storage writes; log what was done and what was left."""
    runtime = context.runtime_ctx
    kept_in = undo_area_path(runtime.settings, runtime.job_id, journalled=True)
    try:
        report = undo_writes(entries, storage_options(context), kept_in=kept_in)
    except UndoIncompleteError as exc:
        if isinstance(exc.report, UndoReport):
            context.log("storage_undone", exc.report.to_dict(), level="warning")
        raise
    level = "warning" if report.changed_since else "info"
    context.log("storage_undone", report.to_dict(), level=level)
