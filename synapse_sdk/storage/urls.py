"""Canonical URLs and fresh filesystems: how storage names what it touches.

fsspec (about 100 ms to import) is loaded by the first call that needs a filesystem, not
when the engine, which gives every step context its ``storage``, is imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import fsspec

__all__ = ["canonical_url", "fresh_listing", "has_folders", "open_url", "url_protocols"]


def open_url(
    url: str, options: Mapping[str, Any] | None = None, *, fresh: bool = False
) -> tuple[fsspec.AbstractFileSystem, str]:
    """``(filesystem, absolute path)`` for ``url`` (a URL or a local path).

    ``options`` go to fsspec as storage options (``endpoint_url``, ``profile``...). A local
    path is made absolute against the current folder and normalised (fsspec keeps ``..``
    as it is). ``fresh`` gives a filesystem of its own, with no listings cache: what a
    rollback must see is the store as it is now, not as a cached listing remembers it.
    """
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    extra: dict[str, Any] = dict(options or {})
    if fresh:
        extra.update(skip_instance_cache=True, use_listings_cache=False)
    fs, path = url_to_fs(url, **extra)
    if isinstance(fs, LocalFileSystem):
        path = os.path.abspath(path)
    return fs, path.rstrip("/") or "/"


def canonical_url(url: str, options: Mapping[str, Any] | None = None) -> str:
    """The absolute URL of ``url``, protocol included (``file:///abs/path``, ``s3://b/k``)."""
    fs, path = open_url(url, options)
    return str(fs.unstrip_protocol(path))


def fresh_listing(fs: fsspec.AbstractFileSystem, folder: str) -> dict[str, Mapping[str, Any]]:
    """What ``folder`` holds now, by path: its listing cache is dropped first.

    Each entry is fsspec's detail (``name``, ``size``, ``type``, ``ETag`` on S3). A folder
    that does not exist holds nothing.
    """
    fs.invalidate_cache(folder)
    try:
        entries = fs.ls(folder, detail=True)
    except FileNotFoundError:
        return {}
    return {entry["name"].rstrip("/"): entry for entry in entries}


def has_folders(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether ``fs`` has real folders, that a write must create and a rollback remove.

    Object stores (S3, GCS, Azure) have none: a "folder" there is a key prefix, and
    removing one could mean removing a bucket.
    """
    from fsspec.implementations.local import LocalFileSystem
    from fsspec.implementations.memory import MemoryFileSystem

    return isinstance(fs, LocalFileSystem | MemoryFileSystem)


def is_local_disk(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether ``fs`` is this machine's disk, where files are made durable by ``fsync``."""
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


_LOCAL = frozenset({"file", "local"})


def url_protocols(value: object) -> set[str]:
    """The fsspec protocols of the URLs in ``value`` (params: mappings, lists, strings).

    ``s3://bucket/x`` gives ``s3``; local paths and ``file://`` URLs give nothing. A run on
    a cluster needs the filesystem package of each (``s3fs`` for ``s3``) on its workers.
    """
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            for part in item.split("::"):  # chained URLs: simplecache::s3://bucket/key
                scheme, sep, _ = part.partition("://")
                if not sep and "://" not in item:
                    continue
                scheme = scheme if sep else part  # simplecache:: names a protocol alone
                if scheme.replace("+", "").replace("-", "").isalnum() and scheme not in _LOCAL:
                    found.add(scheme)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return found
