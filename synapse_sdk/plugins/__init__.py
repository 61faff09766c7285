"""Plugin-facing API: actions, hooks, the runtime context and ``run_action``.

A face, as the seed documents it: each name is defined lower down (see
docs/architecture.md) and loaded through :mod:`synapse_sdk`'s map on first access.

Names are loaded on first access so that ``import synapse_sdk.plugins.steps`` (which
imports this package first) stays cheap: pydantic, pluggy and structlog are only
imported when an action, a hook or a logger is actually used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import synapse_sdk

if TYPE_CHECKING:
    from synapse_sdk.actions import (
        BaseAction,
        BaseExportAction,
        BaseTrainAction,
        BaseUploadAction,
        ExportParams,
        TrainParams,
        UploadParams,
    )
    from synapse_sdk.host.hookspecs import hookimpl
    from synapse_sdk.host.manager import PluginHost
    from synapse_sdk.run.runner import run_action
    from synapse_sdk.runtime.context import RuntimeContext

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


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(synapse_sdk, name)  # the one map from public name to home module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
