"""The action catalog: installed actions (``synapse_sdk.actions`` entry points) by name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import importlib_metadata

from synapse_sdk.exceptions import ActionNotFoundError, RunTerminated, SynapseError
from synapse_sdk.plugins.actions.base import BaseAction
from synapse_sdk.plugins.manager import (
    ACTIONS_GROUP,
    LOAD_ERRORS,
    describe_error,
    entry_point_distribution,
)

__all__ = [
    "ActionEntry",
    "ActionLoadError",
    "class_reference",
    "discover_actions",
    "resolve_action",
]


class ActionLoadError(SynapseError):
    """An action is installed but its entry point cannot be loaded."""


@dataclass
class ActionEntry:
    """An installed action: its entry point, and its class or why it could not be loaded."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    action_class: type[BaseAction[Any]] | None = None
    error: str | None = None

    @property
    def kind(self) -> str:
        return self.action_class.kind if self.action_class is not None else "broken"


def _entry_points() -> dict[str, importlib_metadata.EntryPoint]:
    # A distribution found twice on sys.path lists its entry points twice: keep the first.
    found: dict[str, importlib_metadata.EntryPoint] = {}
    for entry_point in importlib_metadata.entry_points(group=ACTIONS_GROUP):
        found.setdefault(entry_point.name, entry_point)
    return found


def _load(name: str, target: str, loader: Any) -> type[BaseAction[Any]]:
    try:
        loaded = loader()
    except RunTerminated:  # a signal arrived while it loaded: not the action's doing
        raise
    except LOAD_ERRORS as exc:
        raise ActionLoadError(
            f"action '{name}' ({target}) failed to load: {describe_error(exc)}"
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, BaseAction)):
        raise ActionLoadError(f"action '{name}' ({target}) is not a BaseAction subclass")
    return loaded


def discover_actions() -> list[ActionEntry]:
    """Every installed action, sorted by name; each is imported in isolation."""
    entries = []
    for name, entry_point in sorted(_entry_points().items()):
        distribution, version = entry_point_distribution(entry_point)
        entry = ActionEntry(name, entry_point.value, distribution, version)
        try:
            entry.action_class = _load(name, entry_point.value, entry_point.load)
        except ActionLoadError as exc:
            entry.error = str((exc.__cause__ and describe_error(exc.__cause__)) or exc)
        entries.append(entry)
    return entries


def _import_target(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def class_reference(action_class: type[BaseAction[Any]]) -> str | None:
    """``module:Class``, from which :func:`resolve_action` imports ``action_class`` again.

    None for a class that cannot be imported by name (defined in ``__main__`` or inside a
    function).
    """
    module, qualname = action_class.__module__, action_class.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        return None
    return f"{module}:{qualname}"


def resolve_action(action: str | type[BaseAction[Any]]) -> tuple[type[BaseAction[Any]], str]:
    """The action class and its name, for a class, an installed name or ``module:Class``.

    Raises:
        ActionNotFoundError: no installed action has that name.
        ActionLoadError: it is installed (or named by path) but cannot be imported.
    """
    if isinstance(action, type):
        if not issubclass(action, BaseAction):
            raise TypeError(f"{action.__name__} is not a BaseAction subclass")
        return action, action.default_name()
    entry_points = _entry_points()
    entry_point = entry_points.get(action)
    if entry_point is not None:
        return _load(action, entry_point.value, entry_point.load), action
    if ":" in action:
        action_class = _load(action, action, lambda: _import_target(action))
        return action_class, action_class.default_name()
    raise ActionNotFoundError(action, list(entry_points))
