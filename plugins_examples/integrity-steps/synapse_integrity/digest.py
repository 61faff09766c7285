"""Reading an object back through fsspec and hashing it."""

from __future__ import annotations

import hashlib

import fsspec


def digest_of(url: str) -> tuple[int, str]:
    """``(bytes, sha256 hex)`` of the object at ``url``."""
    digest = hashlib.sha256()
    size = 0
    with fsspec.open(url, "rb") as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
