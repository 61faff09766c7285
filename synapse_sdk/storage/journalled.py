"""Storage: the writes of one step, each journalled before and after it happens."""

from __future__ import annotations

import hashlib
import os
import posixpath
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from synapse_sdk.plugins.runtime.undo_area import undo_area
from synapse_sdk.plugins.steps.context import STORAGE_KEY
from synapse_sdk.storage.urls import canonical_url, has_folders, open_url

if TYPE_CHECKING:
    import fsspec

    from synapse_sdk.plugins.steps.context import BaseStepContext

__all__ = ["STORAGE_KEY", "Storage", "storage_options"]

_CHUNK = 1 << 20


class _DigestWriter:
    """A binary file that counts and hashes what goes through it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.size = 0
        self._digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        return self._file.write(data)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __getattr__(self, name: str) -> Any:  # flush, closed...: the file's own
        return getattr(self._file, name)


def storage_options(context: BaseStepContext) -> Mapping[str, Any]:
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

    def __init__(self, context: BaseStepContext, options: Mapping[str, Any] | None = None) -> None:
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
        if has_folders(fs):
            self._make_folders(fs, path)
        return str(fs.unstrip_protocol(path))

    @contextmanager
    def open(self, url: str, mode: str = "wb") -> Iterator[BinaryIO]:
        """Open ``url`` for writing (binary); the write is journalled and undone on rollback.

        Only ``"wb"`` is supported: a write replaces the whole object (appending could not
        be undone by a delete or a restore). Missing folders are created (and journalled).
        """
        if mode != "wb":
            raise ValueError(f"context.storage.open() writes with mode 'wb' only, not {mode!r}")
        fs, path = open_url(url, self.options)
        target = str(fs.unstrip_protocol(path))
        if has_folders(fs):
            self._make_folders(fs, posixpath.dirname(path))
        self._announce(fs, path, target)
        with fs.open(path, "wb") as file:
            writer = _DigestWriter(file)
            yield writer  # type: ignore[misc]  # a BinaryIO for what callers use
        self._journal(
            {"op": "written", "url": target, "size": writer.size, "sha256": writer.sha256}
        )

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

    # -- the journal ----------------------------------------------------------------------

    def _journal(self, entry: dict[str, Any]) -> None:
        self._context.append_rollback(STORAGE_KEY, entry)

    def _make_folders(self, fs: fsspec.AbstractFileSystem, path: str) -> None:
        missing: list[str] = []
        while path and path != "/" and not fs.isdir(path):
            if fs.exists(path):
                raise FileExistsError(f"{fs.unstrip_protocol(path)} is a file, not a folder")
            missing.append(path)
            path = posixpath.dirname(path)
        for folder in reversed(missing):  # parent first: undone child first
            self._journal({"op": "folder", "url": str(fs.unstrip_protocol(folder))})
            fs.mkdir(folder, create_parents=False)

    def _announce(self, fs: fsspec.AbstractFileSystem, path: str, target: str) -> None:
        """Journal what is about to happen to ``target``: created, or replaced (kept first).

        The store is asked afresh (no cached listing): an object someone created since the
        step last listed must be kept and restored, never journalled as the run's own.
        """
        fs.invalidate_cache(path)
        if not fs.exists(path):
            self._journal({"op": "create", "url": target})
            return
        backup = self._undo_area() / f"{uuid.uuid4().hex}-{posixpath.basename(path)}"
        fs.get_file(path, str(backup))
        self._journal({"op": "replace", "url": target, "backup": str(backup)})

    def _undo_area(self) -> Path:
        runtime = self._context.runtime_ctx
        return undo_area(runtime.env, runtime.job_id, journalled=runtime.recorder is not None)
