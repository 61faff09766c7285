"""Module attributes loaded on first access (PEP 562 ``__getattr__``).

The package faces (``synapse_sdk``, ``synapse_sdk.runtime``) name more than a caller
usually needs; each name's module is imported when the name is first read, then the
value is stored in the face so that later reads are plain attribute lookups.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from importlib import import_module
from typing import Any

__all__ = ["load_on_first_use"]


def load_on_first_use(
    face: str, name: str, homes: Mapping[str, str], namespace: MutableMapping[str, Any]
) -> Any:
    """``name`` from its module in ``homes``, stored in ``namespace`` (the face's globals).

    Raises:
        AttributeError: ``name`` is not one of the face's names.
    """
    module = homes.get(name)
    if module is None:
        raise AttributeError(f"module {face!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    namespace[name] = value
    return value
