"""The plugin host: pluggy hooks plus entry-point discovery of plugins and actions.

Two entry-point groups are read (with ``importlib_metadata``):

* ``synapse_sdk.plugins`` — ``name = "package.module"`` (or ``"package.module:object"``):
  an object with ``@hookimpl`` functions, registered as a hook plugin under ``name``.
* ``synapse_sdk.actions`` — ``name = "package.module:ActionClass"``: an action runnable
  by ``name`` (read by :mod:`synapse_sdk.plugins.catalog`).

Each plugin is loaded in isolation: one that fails to import or to register (anything it
raises, ``sys.exit()`` included, but not ``KeyboardInterrupt``) is recorded with its
distribution and error and the others still load. ``SYNAPSE_STRICT_PLUGINS=1``
turns such a failure into :class:`~synapse_sdk.exceptions.PluginLoadError`,
``SYNAPSE_DISABLE_PLUGINS=a,b`` skips the named entry points before they are imported, and
``SYNAPSE_LOAD_PLUGINS=a,b`` loads only the named ones (set but empty: none at all).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import importlib_metadata
import pluggy

from synapse_sdk.exceptions import PluginHookError, PluginLoadError, RunTerminated
from synapse_sdk.plugins import hookspecs

if TYPE_CHECKING:
    from synapse_sdk.plugins.runtime.context import RuntimeContext

__all__ = [
    "ACTIONS_GROUP",
    "PLUGINS_GROUP",
    "STRICT_ENV",
    "DISABLE_ENV",
    "LOAD_ENV",
    "LOAD_ERRORS",
    "PluginRecord",
    "PluginHost",
    "describe_error",
    "disabled_plugin_names",
    "entry_point_distribution",
    "get_plugin_host",
]

ACTIONS_GROUP = "synapse_sdk.actions"
PLUGINS_GROUP = "synapse_sdk.plugins"
STRICT_ENV = "SYNAPSE_STRICT_PLUGINS"
DISABLE_ENV = "SYNAPSE_DISABLE_PLUGINS"
LOAD_ENV = "SYNAPSE_LOAD_PLUGINS"

LOAD_ERRORS: tuple[type[BaseException], ...] = (Exception, SystemExit)
"""What importing a plugin or an action, or calling its hook, may raise and still only
break that one plugin.

``SystemExit`` is included: a module that calls ``sys.exit()`` at import (a script turned
plugin, a dependency check) must not end every ``synapse`` command, and a hook that calls
it must not end a run without its rollback. ``KeyboardInterrupt`` is not: the user asked
to stop; nor is :class:`~synapse_sdk.exceptions.RunTerminated`, a signal's, not the plugin's.
"""


@dataclass
class PluginRecord:
    """What the host knows about one hook plugin, loaded or not."""

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False

    @property
    def status(self) -> str:
        if self.disabled:
            return "disabled"
        return "failed" if self.error else "loaded"


def describe_error(exc: BaseException) -> str:
    """``Type: message``, or just ``Type`` when there is no message (``sys.exit()``)."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def entry_point_distribution(
    entry_point: importlib_metadata.EntryPoint,
) -> tuple[str | None, str | None]:
    dist = entry_point.dist
    if dist is None:
        return None, None
    return dist.name, dist.version


def _is_on(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _names(value: str) -> set[str]:
    return {name.strip() for name in value.split(",") if name.strip()}


def disabled_plugin_names(env: Mapping[str, str]) -> set[str]:
    """Entry-point names listed in ``SYNAPSE_DISABLE_PLUGINS`` (comma separated)."""
    return _names(env.get(DISABLE_ENV, ""))


def _is_blocked(name: str, env: Mapping[str, str]) -> bool:
    allowed = env.get(LOAD_ENV)
    return name in disabled_plugin_names(env) or (
        allowed is not None and name not in _names(allowed)
    )


class PluginHost:
    """A pluggy plugin manager with the SDK's hook specs, and a record of every plugin.

    The SDK keeps one host per process (:func:`get_plugin_host`) that loads the installed
    plugins on first use; tests and embedders create their own with ``PluginHost()`` and
    ``register`` plugins directly.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}

    # -- loading -------------------------------------------------------------------------

    def register(
        self,
        plugin: object,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> str:
        """Register ``plugin`` (a module, class instance or class with ``@hookimpl``s).

        Raises ``pluggy.PluginValidationError`` when a hook implementation does not match
        its spec (for example a misspelt ``synapse_*`` hook or an unknown argument).
        """
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked or already registered")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            self.pm.unregister(plugin)
            raise
        hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
        self.records[registered] = PluginRecord(registered, distribution, version, hooks)
        return registered

    def registered(self) -> list[tuple[object, PluginRecord]]:
        """Every registered plugin with its record, in registration order (= call order)."""
        return [(plugin, self.records[name]) for name, plugin in self.pm.list_name_plugin()]

    @classmethod
    def with_plugins(cls, plugins: list[tuple[object, PluginRecord]]) -> PluginHost:
        """A host holding exactly ``plugins`` (from :meth:`registered`), in the same order.

        Used to give a run on another machine the plugins of the host that started it.
        """
        host = cls()
        for plugin, record in plugins:
            host.register(
                plugin, record.name, distribution=record.distribution, version=record.version
            )
        return host

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.records.pop(name, None)

    def load_entry_points(self, env: Mapping[str, str] | None = None) -> list[PluginRecord]:
        """Load every plugin of the ``synapse_sdk.plugins`` group; return the failures.

        Plugins blocked by ``SYNAPSE_DISABLE_PLUGINS`` or left out of
        ``SYNAPSE_LOAD_PLUGINS`` are recorded as disabled and never imported.

        Raises:
            PluginLoadError: a plugin failed and ``SYNAPSE_STRICT_PLUGINS`` is on.
        """
        env = os.environ if env is None else env
        strict = _is_on(env.get(STRICT_ENV))
        failures: list[PluginRecord] = []
        for entry_point in importlib_metadata.entry_points(group=PLUGINS_GROUP):
            distribution, version = entry_point_distribution(entry_point)
            name = entry_point.name
            if name in self.records:
                continue
            if _is_blocked(name, env):
                self.records[name] = PluginRecord(name, distribution, version, disabled=True)
                continue
            try:
                self.register(entry_point.load(), name, distribution=distribution, version=version)
            except RunTerminated:  # a signal arrived while it loaded: not the plugin's doing
                raise
            except LOAD_ERRORS as exc:
                record = PluginRecord(name, distribution, version, error=describe_error(exc))
                self.records[name] = record
                failures.append(record)
                if strict:
                    raise PluginLoadError(
                        f"plugin '{name}' from {distribution or 'an unknown distribution'} "
                        f"failed to load: {record.error} ({STRICT_ENV} is on)"
                    ) from exc
        return failures

    @property
    def failures(self) -> list[PluginRecord]:
        return [record for record in self.records.values() if record.error]

    # -- calling hooks -------------------------------------------------------------------

    def _implementations(self, hook_name: str) -> Iterator[tuple[str, Callable[..., Any]]]:
        """``(plugin name, call)`` for each implementation of a hook, in pluggy's call order.

        ``call(**kwargs)`` passes each implementation only the arguments it declares.
        """
        caller = getattr(self.pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):

            def call(_impl: Any = impl, **kwargs: Any) -> Any:
                return _impl.function(*[kwargs[name] for name in _impl.argnames])

            yield impl.plugin_name, call

    def call_each(self, hook_name: str, /, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call a hook one plugin at a time, yielding ``(plugin, result)``.

        A plugin that raises is reported as :class:`PluginHookError` naming it.
        """
        for plugin, call in self._implementations(hook_name):
            yield plugin, self._checked_call(plugin, hook_name, call, kwargs)

    def chain(
        self, hook_name: str, argument: str, value: Any, /, **kwargs: Any
    ) -> Iterator[tuple[str, Any]]:
        """Call a hook one plugin at a time, feeding each the previous non-None result.

        ``argument`` names the hook argument that carries ``value``; yields ``(plugin,
        result)``. Used for ``synapse_wrap_step``, where each plugin wraps what the previous
        one returned.
        """
        for plugin, call in self._implementations(hook_name):
            result = self._checked_call(plugin, hook_name, call, {**kwargs, argument: value})
            if result is not None:
                value = result
            yield plugin, result

    @staticmethod
    def _checked_call(
        plugin: str, hook_name: str, call: Callable[..., Any], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return call(**kwargs)
        except RunTerminated:  # a signal arrived while the hook ran: not the plugin's doing
            raise
        except LOAD_ERRORS as exc:
            raise PluginHookError(plugin, hook_name, describe_error(exc)) from exc

    def notify(self, hook_name: str, runtime: RuntimeContext, **kwargs: Any) -> None:
        """Call an observer hook; an implementation that raises is logged and skipped.

        A plugin calling ``sys.exit()`` is skipped the same way: an observer must not end
        the run, let alone skip its rollback.
        """
        for plugin, call in self._implementations(hook_name):
            try:
                call(**kwargs)
            except RunTerminated:  # a signal arrived while the hook ran: not the plugin's doing
                raise
            except LOAD_ERRORS as exc:
                runtime.log(
                    "plugin_hook_failed",
                    {"plugin": plugin, "hook": hook_name, "error": describe_error(exc)},
                    level="warning",
                    exc=exc,
                )


_default_host: PluginHost | None = None


def get_plugin_host(env: Mapping[str, str] | None = None) -> PluginHost:
    """The process-wide host, with installed plugins loaded on first call."""
    global _default_host
    if _default_host is None:
        host = PluginHost()
        host.load_entry_points(env)
        _default_host = host
    return _default_host
