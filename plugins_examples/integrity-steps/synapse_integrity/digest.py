"""Reading an object back through fsspec and hashing it."""

from __future__ import annotations

import hashlib
from typing import Any


def digest_of(fs: Any, url: str) -> tuple[int, str]:
    """``(bytes, sha256 hex)`` of the object at ``url`` on the fsspec filesystem ``fs``."""
    digest = hashlib.sha256()
    size = 0
    with fs.open(url, "rb") as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
