"""Paths on the target and file names: joining, canonical URLs, printable names.

The writes themselves go through ``context.storage``, which journals canonical URLs
(``file:///abs/path``, ``s3://bucket/key``) and undoes them on rollback.
"""

from __future__ import annotations

import posixpath
from typing import Any


def join(root: str, relative: str) -> str:
    return f"{root}/{relative}" if relative else root


def parent(path: str) -> str:
    """The folder holding ``path`` ('' above a bucket, '/' at the top of a local tree)."""
    return posixpath.dirname(path)


def to_url(fs: Any, path: str) -> str:
    """The canonical URL of ``path`` on ``fs`` (``file:///...`` for a local path)."""
    return str(fs.unstrip_protocol(path))


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
