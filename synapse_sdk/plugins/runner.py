"""``run_action``: run an action by class or installed name, as the CLI does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from synapse_sdk.plugins.actions.base import BaseAction
from synapse_sdk.plugins.catalog import resolve_action
from synapse_sdk.plugins.manager import PluginHost, get_plugin_host
from synapse_sdk.plugins.runtime.context import RuntimeContext

__all__ = ["run_action"]


def run_action(
    action: str | type[BaseAction[Any]],
    params: Mapping[str, Any] | BaseModel | None = None,
    *,
    ctx: RuntimeContext | None = None,
    plugins: PluginHost | None = None,
) -> Any:
    """Validate ``params``, build the action and run it with the installed hook plugins.

    Args:
        action: an action class, an installed action's name, or ``"module:Class"``.
        params: a mapping or an instance of the action's params model.
        ctx: the runtime context (logger, sinks); a fresh ``RuntimeContext()`` by default.
        plugins: the plugin host; by default the process-wide one, which loads the
            plugins installed through entry points (as the ``synapse`` command does).

    Raises:
        ActionNotFoundError: ``action`` names no installed action.
        InvalidParamsError: the params are invalid (every bad field is listed).
        StepExecutionError: a step failed; the run was rolled back.
    """
    action_class, name = resolve_action(action)
    runtime = ctx if ctx is not None else RuntimeContext()
    host = plugins if plugins is not None else get_plugin_host(runtime.env)
    instance = action_class(params, runtime, plugins=host, name=name)
    return instance.run()
