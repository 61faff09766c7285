"""Storage: the writes of one step, each journalled before and after it happens."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from synapse_sdk.errors import StepInputError
from synapse_sdk.storage.undo_area import sync_file, sync_folder, undo_area
from synapse_sdk.storage.urls import canonical_url, fresh_listing, has_folders, open_url

if TYPE_CHECKING:
    import fsspec

    from synapse_sdk.runtime.context import RuntimeContext

__all__ = ["STORAGE_KEY", "Storage", "StepWriter", "StoredObject", "storage_options"]

STORAGE_KEY = "synapse.storage"
"""The rollback-data key under which ``context.storage`` journals a step's writes, in order."""


class StepWriter(Protocol):
    """What storage needs of a step context (the engine's ``BaseStepContext`` is one)."""

    runtime_ctx: RuntimeContext

    def append_rollback(
        self, key: str, *items: Any, positions: Sequence[int] | None = None
    ) -> None: ...

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        rollback_key: str | None = None,
        chunk_size: int | None = None,
        fail_fast: bool = False,
    ) -> list[Any]: ...

    def set_progress(self, current: float, total: float) -> None: ...

    def progress_span(self, start: float, end: float) -> AbstractContextManager[None]: ...


_CHUNK = 1 << 20

PREPARATION_SHARE = 0.1
"""The part of a step's progress band ``put_files`` gives its preparation (listings,
then backups of the objects it replaces); the copies move the rest."""


class _DigestWriter:
    """A binary file that counts and hashes what goes through it.

    Besides sha256 it keeps the MD5 on object stores, whose ETag of an object written in
    one part is that MD5: a rollback then tells from one listing whether an object is
    still what the run wrote, without reading it back.
    """

    def __init__(self, file: BinaryIO, *, md5: bool = False) -> None:
        import hashlib  # deferred: loading OpenSSL is a tenth of the engine's import time

        self._file = file
        self.size = 0
        self._digest = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        if self._md5 is not None:
            self._md5.update(data)
        self.size += len(data)
        return self._file.write(data)

    def written(self, url: str) -> dict[str, Any]:
        """The journal entry of the finished write to ``url``."""
        entry: dict[str, Any] = {
            "op": "written",
            "url": url,
            "size": self.size,
            "sha256": self._digest.hexdigest(),
        }
        if self._md5 is not None:
            entry["md5"] = self._md5.hexdigest()
        return entry

    def __getattr__(self, name: str) -> Any:  # flush, closed...: the file's own
        return getattr(self._file, name)


@dataclass(frozen=True)
class StoredObject:
    """An object a step wrote: its canonical URL, size in bytes and sha256 (hex)."""

    url: str
    size: int
    sha256: str


def _copy_file(job: tuple[str, str, Mapping[str, Any]]) -> dict[str, Any]:
    """Copy a local file to a URL and return the write's journal entry.

    Runs on a worker thread, or as a Ray task, for :meth:`Storage.put_files`: it gets
    everything it needs in ``job`` (local path, canonical URL, storage options).
    """
    local, url, options = job
    fs, path = open_url(url, options)
    with Path(local).open("rb") as source, fs.open(path, "wb") as target:
        writer = _DigestWriter(target, md5=not has_folders(fs))
        while chunk := source.read(_CHUNK):
            writer.write(chunk)
    return writer.written(url)


def _file_in_the_way(fs: fsspec.AbstractFileSystem, folder: str) -> FileExistsError:
    """The error for a file where a write needs a folder."""
    return FileExistsError(f"{fs.unstrip_protocol(folder)} is a file, not a folder")


def _folder_in_the_way(target: str) -> StepInputError:
    return StepInputError(
        f"cannot write {target}: a folder is there, and an object cannot replace a folder; "
        "remove the folder or write under another name"
    )


def storage_options(context: object) -> Mapping[str, Any]:
    """The fsspec options of a run: its params' ``storage_options``, if they have that field."""
    params = getattr(context, "params", None)
    options = getattr(params, "storage_options", None)
    return options or {}


class Storage:
    """Write through fsspec so that the run's rollback undoes every write exactly.

    Reach it as ``context.storage`` inside a step. Before anything is created its canonical
    URL is durably journalled (every folder the call creates, ancestors included); before
    an object is replaced its previous content is kept in the run's undo area; after a
    write its size and sha256 are journalled. When the run rolls back, the SDK deletes the
    objects the step created whose content is still what it wrote, restores the ones it
    replaced, removes the folders it created once empty, and leaves (and reports) anything
    someone changed since. See docs/storage.md.

    Args:
        context: the running step's context.
        options: fsspec storage options (``endpoint_url``, ``profile``...); by default the
            action params' ``storage_options`` when they have that field.
    """

    def __init__(self, context: StepWriter, options: Mapping[str, Any] | None = None) -> None:
        self._context = context
        self.options: dict[str, Any] = dict(
            storage_options(context) if options is None else options
        )

    # -- reading --------------------------------------------------------------------------

    def fs(self, url: str) -> fsspec.AbstractFileSystem:
        """The plain fsspec filesystem of ``url``, for reads (nothing done there is undone)."""
        return open_url(url, self.options)[0]

    def exists(self, url: str) -> bool:
        fs, path = open_url(url, self.options)
        return bool(fs.exists(path))

    # -- writing --------------------------------------------------------------------------

    def makedirs(self, url: str) -> str:
        """Create the folder ``url`` and its missing ancestors; return its canonical URL.

        Each folder is journalled before it is created, parent first. On object stores,
        which have no folders, this only returns the URL.
        """
        fs, path = open_url(url, self.options)
        self._make_folders([(fs, path)])
        return str(fs.unstrip_protocol(path))

    @contextmanager
    def open(self, url: str, mode: str = "wb") -> Iterator[BinaryIO]:
        """Open ``url`` for writing (binary); the write is journalled and undone on rollback.

        Only ``"wb"`` is supported: a write replaces the whole object (appending could not
        be undone by a delete or a restore). Missing folders are created (and journalled).

        Raises:
            StepInputError: a folder is at ``url`` (refused before anything is journalled).
        """
        if mode != "wb":
            raise ValueError(f"context.storage.open() writes with mode 'wb' only, not {mode!r}")
        fs, path = open_url(url, self.options)
        target = str(fs.unstrip_protocol(path))
        self._make_folders([(fs, posixpath.dirname(path))])
        self._announce(fs, path, target)
        with fs.open(path, "wb") as file:
            writer = _DigestWriter(file, md5=not has_folders(fs))
            yield writer  # type: ignore[misc]  # a BinaryIO for what callers use
        self._journal(writer.written(target))

    def write_bytes(self, url: str, data: bytes) -> str:
        """Write ``data`` to ``url``; return its canonical URL."""
        with self.open(url) as file:
            file.write(data)
        return canonical_url(url, self.options)

    def write_text(self, url: str, text: str, encoding: str = "utf-8") -> str:
        """Write ``text`` to ``url``; return its canonical URL."""
        return self.write_bytes(url, text.encode(encoding))

    def put_file(self, local_path: str | os.PathLike[str], url: str) -> str:
        """Copy the local file ``local_path`` to ``url``; return its canonical URL."""
        with Path(local_path).open("rb") as source, self.open(url) as target:
            while chunk := source.read(_CHUNK):
                target.write(chunk)
        return canonical_url(url, self.options)

    def put_files(self, pairs: Iterable[tuple[str | os.PathLike[str], str]]) -> list[StoredObject]:
        """Copy many local files, ``(local_path, url)`` each, in parallel; journalled as one.

        The bulk form of :meth:`put_file`, for uploads. The store is asked once per
        distinct folder, not once per file: missing folders are journalled together, then
        created parent first; one fresh listing per target folder tells which targets
        exist (those are kept in the undo area first). Every target's intent is then in
        the journal, in one commit, before the first copy starts. The copies go through
        ``context.map`` (a thread pool locally, Ray tasks on Ray), and each collected batch
        of finished copies is journalled in one commit. Progress: the listings, then the
        backups, move the first :data:`PREPARATION_SHARE` of the step's band; the copies
        the rest. Returns what was written, in the order of ``pairs``.

        Raises:
            ValueError: two pairs write the same URL.
            StepInputError: a target is a folder (nothing is written).
            FanOutError: some copies failed (the run's rollback undoes the others).
        """
        jobs: list[tuple[str, str, Mapping[str, Any]]] = []
        targets: dict[str, tuple[fsspec.AbstractFileSystem, str]] = {}
        for local, url in pairs:
            fs, path = open_url(url, self.options)
            target = str(fs.unstrip_protocol(path))
            if target in targets:
                raise ValueError(f"{target} is written twice by one put_files() call")
            targets[target] = (fs, path)
            jobs.append((os.path.abspath(local), target, self.options))
        if not jobs:
            return []
        context = self._context
        with context.progress_span(0.0, PREPARATION_SHARE / 2):  # one listing per folder
            created = self._make_folders(
                (fs, posixpath.dirname(path)) for fs, path in targets.values()
            )
            existing = self._existing(targets, created, context.set_progress)
        intents: list[dict[str, Any]] = []
        with context.progress_span(PREPARATION_SHARE / 2, PREPARATION_SHARE):  # the backups
            kept = 0
            for target, (fs, path) in targets.items():
                if target in existing:
                    backup = self._keep(fs, path)
                    intents.append({"op": "replace", "url": target, "backup": str(backup)})
                    kept += 1
                    context.set_progress(kept, len(existing))
                else:
                    intents.append({"op": "create", "url": target})
            if kept:  # the copies' names, in one flush, before the records
                sync_folder(self._undo_area())
            context.append_rollback(STORAGE_KEY, *intents)
        with context.progress_span(PREPARATION_SHARE, 1.0):
            written = context.map(_copy_file, jobs, rollback_key=STORAGE_KEY)
        return [StoredObject(entry["url"], entry["size"], entry["sha256"]) for entry in written]

    def _make_folders(self, folders: Iterable[tuple[fsspec.AbstractFileSystem, str]]) -> set[str]:
        """Create ``folders`` and their missing ancestors, each journalled before it exists.

        All the missing folders are journalled in one commit, then created parent first
        (so undone child first). Object stores have no folders: nothing is done there.
        Returns the paths created: nothing can already be in them.

        A folder someone else creates between the check and ``mkdir`` is not the run's: a
        ``folder_not_ours`` entry cancels its intent, so a rollback leaves it in place.
        """
        known: set[str] = set()
        missing: dict[str, fsspec.AbstractFileSystem] = {}
        for fs, folder in folders:
            if not has_folders(fs):
                continue
            while folder and folder != "/" and folder not in known and folder not in missing:
                if fs.isdir(folder):
                    known.add(folder)
                    break
                if fs.exists(folder):
                    raise _file_in_the_way(fs, folder)
                missing[folder] = fs
                folder = posixpath.dirname(folder)
        ordered = sorted(missing, key=lambda folder: (folder.count("/"), folder))  # parents first
        entries = [{"op": "folder", "url": str(missing[f].unstrip_protocol(f))} for f in ordered]
        if entries:
            self._context.append_rollback(STORAGE_KEY, *entries)
        created: set[str] = set()
        for folder in ordered:
            fs = missing[folder]
            try:
                fs.mkdir(folder, create_parents=False)
            except FileExistsError:
                if not fs.isdir(folder):
                    raise _file_in_the_way(fs, folder) from None
                self._journal({"op": "folder_not_ours", "url": str(fs.unstrip_protocol(folder))})
                continue
            created.add(folder)
        return created

    @staticmethod
    def _existing(
        targets: Mapping[str, tuple[fsspec.AbstractFileSystem, str]],
        created: set[str],
        progress: Callable[[float, float], None],
    ) -> set[str]:
        """The targets that exist now: one fresh listing per folder (none in new folders).

        ``progress(done, total)`` is told of each folder listed.
        """
        by_folder: dict[tuple[int, str], list[tuple[str, str]]] = {}
        filesystems: dict[int, fsspec.AbstractFileSystem] = {}
        for target, (fs, path) in targets.items():
            folder = posixpath.dirname(path)
            if folder in created:
                continue
            filesystems[id(fs)] = fs
            by_folder.setdefault((id(fs), folder), []).append((target, path))
        existing: set[str] = set()
        for done, ((fs_id, folder), members) in enumerate(by_folder.items(), start=1):
            listed = fresh_listing(filesystems[fs_id], folder)
            progress(done, len(by_folder))
            for target, path in members:
                entry = listed.get(path)
                if entry is None:
                    continue
                if entry.get("type") == "directory":
                    raise _folder_in_the_way(target)
                existing.add(target)
        return existing

    # -- the journal ----------------------------------------------------------------------

    def _journal(self, entry: dict[str, Any]) -> None:
        self._context.append_rollback(STORAGE_KEY, entry)

    def _announce(self, fs: fsspec.AbstractFileSystem, path: str, target: str) -> None:
        """Journal what is about to happen to ``target``: created, or replaced (kept first).

        The store is asked afresh (no cached listing): an object someone created since the
        step last listed must be kept and restored, never journalled as the run's own.
        """
        fs.invalidate_cache(path)
        try:
            kind = fs.info(path).get("type")
        except FileNotFoundError:
            self._journal({"op": "create", "url": target})
            return
        if kind == "directory":  # refused before anything is journalled or written
            raise _folder_in_the_way(target)
        backup = self._keep(fs, path)
        sync_folder(backup.parent)  # the copy's name, too, is on disk before the record
        self._journal({"op": "replace", "url": target, "backup": str(backup)})

    def _keep(self, fs: fsspec.AbstractFileSystem, path: str) -> Path:
        """Copy the object at ``path`` into the run's undo area; return the copy's path.

        The copy's content is on disk when this returns; the caller flushes the undo
        area's folder (once for many copies) before the journal names any of them.
        """
        backup = self._undo_area() / f"{os.urandom(16).hex()}-{posixpath.basename(path)}"
        fs.get_file(path, str(backup))
        sync_file(backup)
        recorder = self._context.runtime_ctx.recorder
        if recorder is not None:  # on a worker elsewhere: a copy goes beside the journal too
            recorder.kept(str(backup))
        return backup

    def _undo_area(self) -> Path:
        runtime = self._context.runtime_ctx
        return undo_area(runtime.settings, runtime.job_id, journalled=runtime.recorder is not None)
