"""Plugin-facing API: actions, hooks, the runtime context and ``run_action``.

Names are loaded on first access so that ``import synapse_sdk.plugins.steps`` (which
imports this package first) stays cheap: pydantic, pluggy and structlog are only
imported when an action, a hook or a logger is actually used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse_sdk.plugins.runtime.context import RuntimeContext

__all__ = ["RuntimeContext"]

_LAZY = {
    "RuntimeContext": "synapse_sdk.plugins.runtime.context",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
