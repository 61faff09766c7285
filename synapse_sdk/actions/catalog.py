"""The action catalog: installed actions (``synapse_sdk.actions`` entry points) by name.

Two distributions may install an action under the same name. Neither silently wins:
:func:`resolve_action` refuses the bare name with :class:`ActionConflictError`, and
``DIST:NAME`` picks one. ``SYNAPSE_DISABLE_PLUGINS=DIST:NAME`` hides the action ``NAME`` of
distribution ``DIST``; ``SYNAPSE_STRICT_PLUGINS=1`` turns any conflict into an error for
every lookup by name and for :func:`discover_actions`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import importlib_metadata
from pydantic import BaseModel

from synapse_sdk.actions.base import BaseAction
from synapse_sdk.errors import (
    ActionConflictError,
    ActionLoadError,
    ActionNotFoundError,
    RunTerminated,
    describe_error,
)
from synapse_sdk.host.manager import (
    ACTIONS_GROUP,
    LOAD_ERRORS,
    PluginHost,
    entry_point_distribution,
    plugin_host,
)
from synapse_sdk.interrupts import raise_wrapped_interrupt
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.settings import Settings

__all__ = [
    "ActionEntry",
    "build_action",
    "ActionLoadError",
    "class_reference",
    "discover_actions",
    "installed_claims",
    "resolve_action",
]


@dataclass
class ActionEntry:
    """An installed action: its entry point, and its class or why it could not be loaded.

    ``conflicts`` names the other distributions that install an action of the same name;
    such an action runs only as ``qualified_name`` (``DIST:NAME``).
    """

    name: str
    target: str
    distribution: str | None
    version: str | None
    action_class: type[BaseAction[Any]] | None = None
    error: str | None = None
    conflicts: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.action_class.kind if self.action_class is not None else "broken"

    @property
    def qualified_name(self) -> str:
        return f"{self.distribution}:{self.name}" if self.distribution else self.name


def _canonical(distribution: str) -> str:
    """A distribution name as pip compares them: ``My_Dist`` and ``my-dist`` are one."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _entry_points(
    settings: Settings, *, hidden: bool = False
) -> dict[str, list[importlib_metadata.EntryPoint]]:
    """Action entry points by name: one per distribution, sorted by distribution.

    A distribution found twice on ``sys.path`` lists its entry points twice: the first is
    kept. Those hidden by ``SYNAPSE_DISABLE_PLUGINS=DIST:NAME`` are left out unless
    ``hidden``.
    """
    disabled = {
        f"{_canonical(dist)}:{name}"
        for dist, _, name in (entry.partition(":") for entry in settings.disabled)
        if name
    }
    found: dict[str, dict[str, importlib_metadata.EntryPoint]] = {}
    for entry_point in importlib_metadata.entry_points(group=ACTIONS_GROUP):
        distribution = _canonical(_distribution(entry_point))
        if not hidden and f"{distribution}:{entry_point.name}" in disabled:
            continue
        found.setdefault(entry_point.name, {}).setdefault(distribution, entry_point)
    return {name: [by_dist[dist] for dist in sorted(by_dist)] for name, by_dist in found.items()}


def _distribution(entry_point: importlib_metadata.EntryPoint) -> str:
    return entry_point_distribution(entry_point)[0] or "an unknown distribution"


def _conflict(
    name: str, entry_points: list[importlib_metadata.EntryPoint], *, strict: bool = False
) -> ActionConflictError:
    found = [(_distribution(ep), entry_point_distribution(ep)[1]) for ep in entry_points]
    return ActionConflictError(name, found, strict=strict)


def _refuse_conflicts(
    entry_points: dict[str, list[importlib_metadata.EntryPoint]], settings: Settings
) -> None:
    """Raise for the first name two distributions install, when strict mode is on."""
    if settings.strict:
        for name, found in sorted(entry_points.items()):
            if len(found) > 1:
                raise _conflict(name, found, strict=True)


def _load(name: str, target: str, loader: Any) -> type[BaseAction[Any]]:
    try:
        loaded = loader()
    except RunTerminated:  # a signal arrived while it loaded: not the action's doing
        raise
    except LOAD_ERRORS as exc:
        raise_wrapped_interrupt(exc)  # a signal, wrapped: not the plugin's doing
        raise ActionLoadError(
            f"action '{name}' ({target}) failed to load: {describe_error(exc)}"
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, BaseAction)):
        raise ActionLoadError(f"action '{name}' ({target}) is not a BaseAction subclass")
    return loaded


def discover_actions(settings: Settings | None = None) -> list[ActionEntry]:
    """Every installed action, sorted by name; each is imported in isolation.

    An action name that several distributions install gives one entry per distribution,
    each listing the others in ``conflicts``.

    Raises:
        ActionConflictError: a name is installed twice and ``SYNAPSE_STRICT_PLUGINS`` is on.
    """
    settings = Settings.from_env() if settings is None else settings
    installed = _entry_points(settings)
    _refuse_conflicts(installed, settings)
    entries = []
    for name, found in sorted(installed.items()):
        for entry_point in found:
            distribution, version = entry_point_distribution(entry_point)
            entry = ActionEntry(name, entry_point.value, distribution, version)
            entry.conflicts = tuple(
                _distribution(other) for other in found if other is not entry_point
            )
            try:
                entry.action_class = _load(name, entry_point.value, entry_point.load)
            except ActionLoadError as exc:
                entry.error = str((exc.__cause__ and describe_error(exc.__cause__)) or exc)
            entries.append(entry)
    return entries


def installed_claims(name: str) -> list[str]:
    """What is installed under ``name`` already: actions of that name, a distribution.

    Hidden actions count (``SYNAPSE_DISABLE_PLUGINS``): they are installed all the same.
    Each is described for a person, e.g. ``"action 'x' from my-dist 1.0"``.
    """
    claims = []
    for entry_point in _entry_points(Settings.from_env({}), hidden=True).get(name, []):
        distribution, version = entry_point_distribution(entry_point)
        source = " ".join(part for part in (distribution, version) if part) or "?"
        claims.append(f"action '{name}' from {source}")
    try:
        installed = importlib_metadata.distribution(name)
    except importlib_metadata.PackageNotFoundError:
        pass
    else:
        claims.append(f"distribution {installed.name} {installed.version}")
    return claims


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


def resolve_action(
    action: str | type[BaseAction[Any]], settings: Settings | None = None
) -> tuple[type[BaseAction[Any]], str]:
    """The action class and its name, for a class, an installed name, ``DIST:NAME`` (the
    action ``NAME`` that distribution ``DIST`` installs) or ``module:Class``.

    Raises:
        ActionNotFoundError: no installed action has that name.
        ActionConflictError: several distributions install that name (say which with
            ``DIST:NAME``), or any name when ``SYNAPSE_STRICT_PLUGINS`` is on.
        ActionLoadError: it is installed (or named by path) but cannot be imported.
    """
    if isinstance(action, type):
        if not issubclass(action, BaseAction):
            raise TypeError(f"{action.__name__} is not a BaseAction subclass")
        return action, action.default_name()
    settings = Settings.from_env() if settings is None else settings
    installed = _entry_points(settings)
    found = installed.get(action, [])
    if found:
        _refuse_conflicts(installed, settings)
        if len(found) > 1:
            raise _conflict(action, found)
        return _load(action, found[0].value, found[0].load), action
    if ":" not in action:
        raise ActionNotFoundError(action, list(installed))
    distribution, _, name = action.partition(":")
    for entry_point in installed.get(name, []):
        if _canonical(_distribution(entry_point)) == _canonical(distribution):
            _refuse_conflicts(installed, settings)
            return _load(action, entry_point.value, entry_point.load), name
    try:
        action_class = _load(action, action, lambda: _import_target(action))
    except ActionLoadError as exc:
        if name in installed:  # DIST:NAME with a distribution that does not install NAME
            choices = [f"{_distribution(ep)}:{name}" for ep in installed[name]]
            raise ActionNotFoundError(action, choices) from exc
        raise
    return action_class, action_class.default_name()


def build_action(
    action: str | type[BaseAction[Any]],
    params: Mapping[str, Any] | BaseModel | None,
    runtime: RuntimeContext,
    plugins: PluginHost | None = None,
    *,
    name: str | None = None,
) -> BaseAction[Any]:
    """Resolve ``action`` and validate ``params``: the action instance, ready to run.

    ``plugins`` defaults to the host of ``runtime.settings`` (the installed plugins they
    allow, loaded once per process); ``name`` to the name ``action`` resolves to.

    Raises:
        ActionNotFoundError, ActionConflictError, ActionLoadError: as
            :func:`resolve_action`.
        InvalidParamsError: every bad field of ``params``, with why.
    """
    action_class, resolved = resolve_action(action, runtime.settings)
    host = plugins if plugins is not None else plugin_host(runtime.settings)
    return action_class(params, runtime, plugins=host, name=name or resolved)
