"""Target storage through fsspec: canonical URLs, joining paths, streaming with sha256.

Everything this example journals for rollback is a canonical URL, protocol included
(``file:///abs/path``, ``memory:///path``, ``s3://bucket/key``): a rollback resolves
it on its own, wherever and whenever it runs, and never goes back to the params (a
relative ``target`` means another folder to ``synapse runs rollback`` started elsewhere).
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from typing import Any

from fsspec.core import url_to_fs

CHUNK = 1 << 20


def join(root: str, relative: str) -> str:
    return f"{root}/{relative}" if relative else root


def parent(path: str) -> str:
    """The folder holding ``path`` ('' above a bucket, '/' at the top of a local tree)."""
    return posixpath.dirname(path)


def to_url(fs: Any, path: str) -> str:
    """The canonical URL of ``path`` on ``fs`` (``file:///...`` for a local path)."""
    return str(fs.unstrip_protocol(path))


def copy_with_digest(source: Path, fs: Any, target: str) -> tuple[int, str]:
    """Stream ``source`` to ``target``; return ``(bytes, sha256 hex)``."""
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as reader, fs.open(target, "wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def remove_objects(urls: list[str]) -> int:
    """Remove the objects at ``urls`` that exist (last first); return how many were removed."""
    removed = 0
    for url in reversed(urls):
        fs, path = url_to_fs(url)
        if fs.exists(path):
            fs.rm_file(path)
            removed += 1
    return removed


def remove_empty_folders(urls: list[str]) -> None:
    """Remove the folders at ``urls`` that are empty, deepest first.

    ``urls`` are in creation order (a folder after its parent), so walking them backwards
    empties a child before its parent is looked at. A folder that still holds something
    (written by someone else meanwhile) stays.
    """
    for url in reversed(urls):
        fs, path = url_to_fs(url)
        if fs.isdir(path) and not fs.ls(path, detail=False):
            fs.rmdir(path)


def raw_name(name: str) -> bytes:
    """The bytes of a file name as the operating system has them.

    On Linux a file name may hold bytes that are not UTF-8; Python keeps each as a
    surrogate escape (``'\\udcff'`` for the byte 0xff), which cannot be written as UTF-8.
    """
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name decodes to (from JSON, say)
        return name.encode("utf-8", "surrogatepass")


def printable(name: str) -> str:
    """``name`` as valid Unicode, for messages, events and the manifest: each byte that
    is not UTF-8 becomes the four characters ``\\xNN``; a UTF-8 name stays as it is."""
    return raw_name(name).decode("utf-8", "backslashreplace")


def name_fields(key: str, name: str) -> dict[str, Any]:
    """Manifest fields for ``name``: ``{key: name}`` for a UTF-8 name, else
    ``{key: printable form, key + "_escaped": true, key + "_bytes": hex of the bytes}``."""
    shown = printable(name)
    if shown == name:
        return {key: name}
    return {key: shown, f"{key}_escaped": True, f"{key}_bytes": raw_name(name).hex()}
