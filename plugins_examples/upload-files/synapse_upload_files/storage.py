"""Target storage through fsspec: resolving URLs, joining paths, streaming with sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fsspec.core import url_to_fs

CHUNK = 1 << 20


def open_target(url: str) -> tuple[Any, str]:
    """``(filesystem, root path)`` for a target URL or local path."""
    fs, root = url_to_fs(url)
    return fs, root.rstrip("/") or "/"


def join(root: str, relative: str) -> str:
    return f"{root}/{relative}" if relative else root


def to_url(fs: Any, path: str) -> str:
    """A URL that ``fsspec`` resolves back to ``path`` on ``fs``."""
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
