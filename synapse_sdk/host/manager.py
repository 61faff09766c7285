"""The plugin host: pluggy hooks plus entry-point discovery of plugins and actions.

Two entry-point groups are read (with ``importlib_metadata``):

* ``synapse_sdk.plugins`` — ``name = "package.module"`` (or ``"package.module:object"``):
  an object with ``@hookimpl`` functions, registered as a hook plugin under ``name``.
* ``synapse_sdk.actions`` — ``name = "package.module:ActionClass"``: an action runnable
  by ``name`` (read by :mod:`synapse_sdk.actions.catalog`).

Each plugin is loaded in isolation: one that fails to import or to register (anything it
raises, ``sys.exit()`` included, but not ``KeyboardInterrupt``) is recorded with its
distribution and error and the others still load. ``SYNAPSE_STRICT_PLUGINS=1``
turns such a failure into :class:`~synapse_sdk.errors.PluginLoadError`,
``SYNAPSE_DISABLE_PLUGINS=a,b`` skips the named entry points before they are imported, and
``SYNAPSE_LOAD_PLUGINS=a,b`` loads only the named ones (set but empty: none at all).

Hooks are called through pluggy's own loop (hook wrappers, ``tryfirst``/``trylast``,
``firstresult`` and hook-call monitoring all apply); each implementation is registered
behind a shim that names its plugin when it fails. ``SYNAPSE_TRACE_PLUGINS=1`` prints every
hook call, with each plugin's time, to stderr.
"""

from __future__ import annotations

import functools
import inspect
import sys
import time
from collections.abc import Callable, Generator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import importlib_metadata
import pluggy

from synapse_sdk.errors import PluginHookError, PluginLoadError, RunTerminated, describe_error
from synapse_sdk.host import hookspecs
from synapse_sdk.interrupts import raise_wrapped_interrupt
from synapse_sdk.runtime.settings import STRICT_ENV, Settings

if TYPE_CHECKING:
    from synapse_sdk.runtime.context import RuntimeContext

__all__ = [
    "ACTIONS_GROUP",
    "PLUGINS_GROUP",
    "LOAD_ERRORS",
    "PluginRecord",
    "PluginHost",
    "entry_point_distribution",
    "plugin_host",
]

ACTIONS_GROUP = "synapse_sdk.actions"
PLUGINS_GROUP = "synapse_sdk.plugins"

LOAD_ERRORS: tuple[type[BaseException], ...] = (Exception, SystemExit)
"""What importing a plugin or an action, or calling its hook, may raise and still only
break that one plugin.

``SystemExit`` is included: a module that calls ``sys.exit()`` at import (a script turned
plugin, a dependency check) must not end every ``synapse`` command, and a hook that calls
it must not end a run without its rollback. ``KeyboardInterrupt`` is not: the user asked
to stop; nor is :class:`~synapse_sdk.errors.RunTerminated`, a signal's, not the plugin's.
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


def entry_point_distribution(
    entry_point: importlib_metadata.EntryPoint,
) -> tuple[str | None, str | None]:
    dist = entry_point.dist
    if dist is None:
        return None, None
    return dist.name, dist.version


class PluginHost:
    """A pluggy plugin manager with the SDK's hook specs, and a record of every plugin.

    A run gets the host of its settings (:func:`plugin_host`), which loads the installed
    plugins those settings allow; tests and embedders create their own with
    ``PluginHost()`` and ``register`` plugins directly.
    """

    def __init__(
        self, *, trace: bool = False, trace_to: Callable[[str], object] | None = None
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._plugins: dict[str, object] = {}
        self.tracing = trace
        self._trace_to = trace_to if trace_to is not None else _to_stderr
        if trace:
            self._trace()

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

        pluggy sees the plugin's implementations through :class:`_Isolated` shims, so that
        a failing one is named; ``registered()`` and the records keep the plugin itself.

        Raises ``pluggy.PluginValidationError`` when a hook implementation does not match
        its spec (for example a misspelt ``synapse_*`` hook or an unknown argument), and
        ``ValueError`` when the name is blocked or taken, or the plugin already registered.
        """
        for other, existing in self._plugins.items():
            if existing is plugin:
                raise ValueError(f"plugin {plugin!r} is already registered as {other!r}")
        name = name or self.pm.get_canonical_name(plugin)
        isolated = _Isolated(plugin, name, self.pm)
        try:
            registered = self.pm.register(isolated, name=name)
        except ValueError:
            registered = None
        if registered is None:
            raise ValueError(f"plugin {name!r} is blocked or already registered")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            self.pm.unregister(isolated)
            raise
        hooks = sorted(caller.name for caller in self.pm.get_hookcallers(isolated) or [])
        self._plugins[registered] = plugin
        self.records[registered] = PluginRecord(registered, distribution, version, hooks)
        return registered

    def registered(self) -> list[tuple[object, PluginRecord]]:
        """Every registered plugin with its record, in registration order (= call order)."""
        return [
            (self._plugins[name], self.records[name])
            for name, _ in self.pm.list_name_plugin()
            if name in self._plugins
        ]

    @classmethod
    def with_plugins(
        cls,
        plugins: list[tuple[object, PluginRecord]],
        *,
        trace: bool = False,
        trace_to: Callable[[str], object] | None = None,
    ) -> PluginHost:
        """A host holding exactly ``plugins`` (from :meth:`registered`), in the same order.

        Used to give a run on another machine the plugins of the host that started it;
        ``trace_to`` takes its trace lines there (to send them back to the caller).
        """
        host = cls(trace=trace, trace_to=trace_to)
        for plugin, record in plugins:
            host.register(
                plugin, record.name, distribution=record.distribution, version=record.version
            )
        return host

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.records.pop(name, None)
        self._plugins.pop(name, None)

    def load_entry_points(self, settings: Settings | None = None) -> list[PluginRecord]:
        """Load every plugin of the ``synapse_sdk.plugins`` group; return the failures.

        Plugins blocked by ``SYNAPSE_DISABLE_PLUGINS`` or left out of
        ``SYNAPSE_LOAD_PLUGINS`` are recorded as disabled and never imported.

        Raises:
            PluginLoadError: a plugin failed and ``SYNAPSE_STRICT_PLUGINS`` is on.
        """
        settings = Settings.from_env() if settings is None else settings
        failures: list[PluginRecord] = []
        for entry_point in importlib_metadata.entry_points(group=PLUGINS_GROUP):
            distribution, version = entry_point_distribution(entry_point)
            name = entry_point.name
            if name in self.records:
                continue
            if settings.blocks_plugin(name):
                self.records[name] = PluginRecord(name, distribution, version, disabled=True)
                continue
            try:
                self.register(entry_point.load(), name, distribution=distribution, version=version)
            except RunTerminated:  # a signal arrived while it loaded: not the plugin's doing
                raise
            except LOAD_ERRORS as exc:
                raise_wrapped_interrupt(exc)  # a signal, wrapped: not the plugin's doing
                record = PluginRecord(name, distribution, version, error=describe_error(exc))
                self.records[name] = record
                failures.append(record)
                if settings.strict:
                    raise PluginLoadError(
                        f"plugin '{name}' from {distribution or 'an unknown distribution'} "
                        f"failed to load: {record.error} ({STRICT_ENV} is on)"
                    ) from exc
        return failures

    @property
    def failures(self) -> list[PluginRecord]:
        return [record for record in self.records.values() if record.error]

    # -- calling hooks -------------------------------------------------------------------
    #
    # Every hook is one call through pluggy's own loop, so hook wrappers, tryfirst/trylast,
    # firstresult and hook-call monitoring all apply. The host's doors below differ only in
    # the _Call they set for the duration of that call: what a failing implementation
    # becomes, and what happens to each implementation's result.

    def call(
        self,
        hook_name: str,
        after: Callable[[str, Any], Any] | None = None,
        wrapped: Callable[[str], object] | None = None,
        /,
        **kwargs: Any,
    ) -> Any:
        """Call a hook through pluggy; return what pluggy returns.

        That is the list of non-None results, or the first one for a ``firstresult`` spec.
        ``after(plugin, result)``, when given, is called as each implementation returns and
        its return value takes the result's place. ``wrapped(plugin)``, when given, is
        called as each hook wrapper finishes its code after ``yield`` (what it did there is
        its own: ``synapse plan`` credits the steps it added to it).

        Raises:
            PluginHookError: an implementation (or a hook wrapper) raised; it names the plugin.
        """
        return self._call(hook_name, _Call(after=after, wrapped=wrapped), kwargs)

    def chain(
        self,
        hook_name: str,
        argument: str,
        value: Any,
        accept: Callable[[str, Any], Any],
        /,
        **kwargs: Any,
    ) -> Any:
        """Call a hook so that each implementation receives the previous one's result.

        One pluggy call: ``argument`` starts as ``value``; as each implementation returns
        something other than None, ``accept(plugin, result)`` checks it and returns the
        value passed, as ``argument``, to the next implementation. Returns the last value.
        Used for ``synapse_wrap_step``, where each plugin wraps what the previous returned.

        Raises:
            PluginHookError: an implementation raised, or ``accept`` refused its result.
        """
        chained = _Call(feed=argument, value=value)

        def after(plugin: str, result: Any) -> Any:
            if result is None:
                return None
            chained.value = accept(plugin, result)
            return chained.value

        chained.after = after
        self._call(hook_name, chained, {**kwargs, argument: value})
        return chained.value

    def notify(self, hook_name: str, runtime: RuntimeContext, **kwargs: Any) -> None:
        """Call an observer hook; an implementation that raises is logged and skipped.

        A plugin calling ``sys.exit()`` is skipped the same way: an observer must not end
        the run, let alone skip its rollback.
        """

        def log(plugin: str, hook: str, exc: BaseException) -> None:
            runtime.log(
                "plugin_hook_failed",
                {"plugin": plugin, "hook": hook, "error": describe_error(exc)},
                level="warning",
                exc=exc,
            )

        self._call(hook_name, _Call(failed=log), kwargs)

    def _call(self, hook_name: str, call: _Call, kwargs: dict[str, Any]) -> Any:
        if self.tracing:
            call.timings = []
        token = _CURRENT.set(call)
        try:
            return getattr(self.pm.hook, hook_name)(**kwargs)
        finally:
            _CURRENT.reset(token)

    def _trace(self) -> None:
        """Print each hook call to stderr: the hook, its duration, each plugin and its own."""
        started: ContextVar[tuple[float, ...]] = ContextVar("synapse_trace_started", default=())

        def start(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: object) -> None:
            started.set((*started.get(), time.perf_counter()))

        def report(
            outcome: pluggy.Result[object],
            hook_name: str,
            impls: Sequence[pluggy.HookImpl],
            kwargs: object,
        ) -> None:
            *outer, began = started.get()
            started.set(tuple(outer))
            took = time.perf_counter() - began
            timings = _CURRENT.get().timings
            if timings is None:  # called past the host: pluggy's order, no per-plugin times
                timings = [(impl.plugin_name, None) for impl in reversed(impls)]
            plugins = ", ".join(
                f"{plugin} (wrapper)" if seconds is None else f"{plugin} {_ms(seconds)}"
                for plugin, seconds in timings
            )
            failed = "" if outcome.exception is None else f" failed: {outcome.exception!r}"
            self._trace_to(
                f"synapse trace: {hook_name} {_ms(took)}{failed} [{plugins or 'no plugins'}]"
            )

        self.pm.add_hookcall_monitoring(start, report)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


_Failed = Callable[[str, str, BaseException], None]


def _raise_hook_error(plugin: str, hook: str, exc: BaseException) -> None:
    raise PluginHookError(plugin, hook, describe_error(exc)) from exc


@dataclass
class _Call:
    """What the host's implementations do during one hook call.

    Attributes:
        failed: called with ``(plugin, hook, exception)`` when an implementation raises;
            it raises (hooks that shape the run) or logs (observer hooks) and returns.
        after: maps each plain implementation's result, ``(plugin, result) -> result``.
        wrapped: told ``(plugin)`` when a hook wrapper has run its code after ``yield``.
        feed: the argument each implementation receives as ``value`` instead of what the
            call passed (see :meth:`PluginHost.chain`).
        timings: ``(plugin, seconds)`` of each implementation, when tracing (None for a
            hook wrapper, whose time includes the others').
    """

    failed: _Failed = _raise_hook_error
    after: Callable[[str, Any], Any] | None = None
    wrapped: Callable[[str], object] | None = None
    feed: str | None = None
    value: Any = None
    timings: list[tuple[str, float | None]] | None = None


_CURRENT: ContextVar[_Call] = ContextVar("synapse_hook_call", default=_Call())  # noqa: B039 - never mutated
"""The call in progress; a hook called on ``pm.hook`` directly raises, as a shaping hook does.
The default is never changed (it has no ``after``, ``feed`` or ``timings``)."""

_NOT_THE_PLUGINS: tuple[type[BaseException], ...] = (RunTerminated, PluginHookError)
"""Left as they are: a signal that arrived while the hook ran, and another implementation's
failure reaching a hook wrapper (already named)."""


def _positional(function: Callable[..., Any]) -> list[str]:
    """The arguments pluggy passes ``function`` by position: those without a default."""
    return [
        parameter.name
        for parameter in inspect.signature(function).parameters.values()
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        and parameter.default is parameter.empty
    ]


def _isolated(function: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
    """``function`` (a plain hook implementation) as pluggy calls it for the host.

    pluggy does not say which implementation raised: this shim does, by handing the
    failure to the current call's ``failed`` with the plugin's name.
    """
    positional = _positional(function)

    @functools.wraps(function)
    def shim(*args: Any, **kwargs: Any) -> Any:
        call = _CURRENT.get()
        if call.feed is not None:
            if call.feed in positional:
                args = (*args[: (at := positional.index(call.feed))], call.value, *args[at + 1 :])
            elif call.feed in kwargs:
                kwargs[call.feed] = call.value
        started = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        except _NOT_THE_PLUGINS:
            raise
        except LOAD_ERRORS as exc:
            raise_wrapped_interrupt(exc)  # a signal, wrapped: not the plugin's doing
            call.failed(plugin, hook, exc)
            return None
        finally:
            if call.timings is not None:
                call.timings.append((plugin, time.perf_counter() - started))
        return result if call.after is None else call.after(plugin, result)

    return shim


def _isolated_wrapper(
    function: Callable[..., Any], plugin: str, hook: str, *, old_style: bool = False
) -> Callable[..., Any]:
    """``function`` (a hook wrapper, new or old style) as pluggy calls it for the host.

    The shim is itself a new-style wrapper, a generator that pluggy drives: it forwards
    the result (or the exception) of the implementations inside to the plugin's generator
    (an old-style one gets it as a ``pluggy.Result`` it may change, and what it leaves
    there is the outcome), and hands a failure of the plugin's own code to ``failed``
    naming the plugin. When ``failed`` returns (observer hooks), the shim passes the inner
    outcome on unchanged. Because pluggy only ever sees new-style wrappers, a plugin's
    old-style wrapper failing after its ``yield`` is the host's error, not a
    ``PluggyTeardownRaisedWarning``.
    """

    @functools.wraps(function)
    def shim(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        call = _CURRENT.get()
        if call.timings is not None:
            call.timings.append((plugin, None))
        try:
            teardown = function(*args, **kwargs)
            next(teardown)
        except StopIteration:
            call.failed(plugin, hook, RuntimeError("the hook wrapper returned without yielding"))
            return (yield)
        except _NOT_THE_PLUGINS:
            raise
        except LOAD_ERRORS as exc:
            raise_wrapped_interrupt(exc)  # a signal, wrapped: not the plugin's doing
            call.failed(plugin, hook, exc)
            return (yield)
        thrown: BaseException | None = None
        outcome: Any = None
        try:
            outcome = yield
        except BaseException as exc:  # an implementation inside raised: the wrapper sees it
            thrown = exc
        result = pluggy.Result(outcome, thrown) if old_style else None
        try:
            if result is not None:
                teardown.send(result)
            elif thrown is not None:
                teardown.throw(thrown)
            else:
                teardown.send(outcome)
        except StopIteration as stop:
            if call.wrapped is not None:
                call.wrapped(plugin)
            return result.get_result() if result is not None else stop.value
        except _NOT_THE_PLUGINS:
            raise
        except LOAD_ERRORS as exc:
            raise_wrapped_interrupt(exc)  # a signal, wrapped: not the plugin's doing
            if exc is thrown:
                raise
            call.failed(plugin, hook, exc)
        else:
            teardown.close()
            call.failed(plugin, hook, RuntimeError("the hook wrapper yielded more than once"))
        if thrown is not None:
            raise thrown
        return outcome

    return shim


class _Isolated:
    """A plugin as the host registers it with pluggy: each of its hook implementations
    behind a shim that names the plugin when it fails, with the same options and arguments.
    """

    def __init__(self, plugin: object, name: str, pm: pluggy.PluginManager) -> None:
        self.synapse_plugin = plugin
        for attribute in dir(plugin):
            opts = pm.parse_hookimpl_opts(plugin, attribute)
            if opts is None:
                continue
            function = getattr(plugin, attribute)
            hook = opts.get("specname") or attribute
            old_style = bool(opts.get("hookwrapper"))
            wraps = opts.get("wrapper") or old_style
            if wraps and inspect.isgeneratorfunction(function):
                shim = _isolated_wrapper(function, name, hook, old_style=old_style)
                opts = {**opts, "wrapper": True, "hookwrapper": False}
            else:  # pluggy refuses a wrapper that is not a generator, naming the plugin
                shim = _isolated(function, name, hook)
            setattr(shim, f"{pm.project_name}_impl", opts)
            setattr(self, attribute, shim)

    def __repr__(self) -> str:
        return repr(self.synapse_plugin)


_HOSTS: dict[tuple[object, ...], PluginHost] = {}


def plugin_host(settings: Settings) -> PluginHost:
    """The host of ``settings``: the installed plugins they allow, loaded once per process.

    Runs whose plugin settings are the same share one host (plugins are imported once),
    whatever else differs (their ``SYNAPSE_HOME``, their Ray address); a run whose plugin
    settings differ (another ``SYNAPSE_DISABLE_PLUGINS``, tracing on) gets its own.
    """
    key = (settings.disabled, settings.only, settings.strict, settings.trace)
    host = _HOSTS.get(key)
    if host is None:
        host = PluginHost(trace=settings.trace)
        host.load_entry_points(settings)
        _HOSTS[key] = host
    return host
