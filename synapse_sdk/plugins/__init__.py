"""Plugin-facing API: actions, hooks, the runtime context and ``run_action``.

Names are loaded on first access so that ``import synapse_sdk.plugins.steps`` (which
imports this package first) stays cheap: pydantic, pluggy and structlog are only
imported when an action, a hook or a logger is actually used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse_sdk.plugins.actions import (
        BaseAction,
        BaseExportAction,
        BaseTrainAction,
        BaseUploadAction,
        ExportParams,
        TrainParams,
        UploadParams,
    )
    from synapse_sdk.plugins.hookspecs import hookimpl
    from synapse_sdk.plugins.manager import PluginHost
    from synapse_sdk.plugins.runner import run_action
    from synapse_sdk.plugins.runtime.context import RuntimeContext

__all__ = [
    "BaseAction",
    "BaseExportAction",
    "BaseTrainAction",
    "BaseUploadAction",
    "ExportParams",
    "PluginHost",
    "RuntimeContext",
    "TrainParams",
    "UploadParams",
    "hookimpl",
    "run_action",
]

_LAZY = {
    "BaseAction": "synapse_sdk.plugins.actions",
    "BaseExportAction": "synapse_sdk.plugins.actions",
    "BaseTrainAction": "synapse_sdk.plugins.actions",
    "BaseUploadAction": "synapse_sdk.plugins.actions",
    "ExportParams": "synapse_sdk.plugins.actions",
    "TrainParams": "synapse_sdk.plugins.actions",
    "UploadParams": "synapse_sdk.plugins.actions",
    "PluginHost": "synapse_sdk.plugins.manager",
    "RuntimeContext": "synapse_sdk.plugins.runtime.context",
    "hookimpl": "synapse_sdk.plugins.hookspecs",
    "run_action": "synapse_sdk.plugins.runner",
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
