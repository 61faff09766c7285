"""The plugin host's isolation of broken plugins, against real installed distributions.

Each test installs fake distributions (a module plus its ``.dist-info`` with entry points)
in a directory on ``sys.path``: the path ``pip install`` takes, as far as discovery goes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import importlib_metadata
import pytest
from structlog.testing import capture_logs
from support.distributions import make_distribution

from synapse_sdk.errors import PluginHookError, PluginLoadError
from synapse_sdk.host import manager as plugin_manager
from synapse_sdk.host.manager import PluginRecord, plugin_host
from synapse_sdk.plugins import PluginHost, RuntimeContext, hookimpl
from synapse_sdk.runtime.settings import Settings
from synapse_sdk.testing import RecordingSink

GOOD = '''
"""A plugin that works."""

from synapse_sdk.plugins import hookimpl


@hookimpl
def synapse_before_run(action, context):
    pass
'''

CRASHES_ON_IMPORT = '''
"""A plugin whose import fails with something other than an ImportError."""

raise RuntimeError("guard_crashing cannot find its config file")
'''

MISSPELT_HOOK = '''
"""A plugin with one good hook and one misspelt hook: pluggy refuses the plugin."""

from synapse_sdk.plugins import hookimpl

CALLS = []


@hookimpl
def synapse_before_run(action, context):
    CALLS.append("synapse_before_run")


@hookimpl
def synapse_before_runs(action, context):
    CALLS.append("synapse_before_runs")
'''

MODULES = {"guard_good": GOOD, "guard_crashing": CRASHES_ON_IMPORT, "guard_misspelt": MISSPELT_HOOK}

ONLY_OURS = {"SYNAPSE_LOAD_PLUGINS": "guard-good,guard-crashing,guard-misspelt"}
"""Load only these tests' plugins, whatever else is installed."""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    for module, source in MODULES.items():
        name = module.replace("_", "-")
        make_distribution(
            site,
            name,
            "1.0.0",
            modules={module: source},
            entry_points={"synapse_sdk.plugins": {name: module}},
        )
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in MODULES:
        sys.modules.pop(module, None)


def test_a_plugin_failing_with_any_exception_is_isolated(site: Path) -> None:
    host = PluginHost()

    failures = host.load_entry_points(Settings.from_env(ONLY_OURS))

    assert {record.name for record in failures} == {"guard-crashing", "guard-misspelt"}
    assert host.records["guard-crashing"].error == (
        "RuntimeError: guard_crashing cannot find its config file"
    )
    assert host.records["guard-good"].status == "loaded"


def test_a_plugin_failing_validation_is_not_left_registered(site: Path) -> None:
    host = PluginHost()

    host.load_entry_points(Settings.from_env(ONLY_OURS))

    assert host.records["guard-misspelt"].status == "failed"
    assert "guard-misspelt" not in [record.name for _, record in host.registered()]
    host.notify("synapse_before_run", RuntimeContext(), action=None, context=None)
    assert sys.modules["guard_misspelt"].CALLS == []


def test_loading_entry_points_again_keeps_the_plugins_already_loaded(site: Path) -> None:
    host = PluginHost()
    host.load_entry_points(Settings.from_env(ONLY_OURS))
    before = {name: (record.status, record.error) for name, record in host.records.items()}

    assert host.load_entry_points(Settings.from_env(ONLY_OURS)) == []

    after = {name: (record.status, record.error) for name, record in host.records.items()}
    assert after == before
    called: list[str] = []
    host.call("synapse_before_run", lambda plugin, _: called.append(plugin), action=1, context=2)
    assert called == ["guard-good"]


def test_strict_mode_chains_the_plugins_own_error(site: Path) -> None:
    with pytest.raises(PluginLoadError, match="'guard-crashing' from guard-crashing") as caught:
        PluginHost().load_entry_points(
            Settings.from_env(
                {"SYNAPSE_LOAD_PLUGINS": "guard-good,guard-crashing", "SYNAPSE_STRICT_PLUGINS": "1"}
            )
        )

    cause = caught.value.__cause__
    assert isinstance(cause, RuntimeError)
    assert str(cause) == "guard_crashing cannot find its config file"


@pytest.mark.parametrize("spelling", ["True", " yes ", "ON", "1"])
def test_strict_mode_accepts_every_spelling_of_on(site: Path, spelling: str) -> None:
    with pytest.raises(PluginLoadError, match="SYNAPSE_STRICT_PLUGINS is on"):
        PluginHost().load_entry_points(
            Settings.from_env(
                {"SYNAPSE_LOAD_PLUGINS": "guard-crashing", "SYNAPSE_STRICT_PLUGINS": spelling}
            )
        )


def test_without_synapse_disable_plugins_nothing_is_disabled() -> None:
    assert Settings.from_env({}).disabled == frozenset()


def test_the_environment_is_read_when_no_mapping_is_given(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNAPSE_LOAD_PLUGINS", "guard-good")
    host = PluginHost()

    host.load_entry_points()

    assert host.records["guard-good"].status == "loaded"
    assert host.records["guard-crashing"].status == "disabled"


def test_a_disabled_plugin_is_recorded_with_its_distribution(site: Path) -> None:
    host = PluginHost()

    host.load_entry_points(
        Settings.from_env({**ONLY_OURS, "SYNAPSE_DISABLE_PLUGINS": "guard-good"})
    )

    assert host.records["guard-good"] == PluginRecord(
        "guard-good", "guard-good", "1.0.0", disabled=True
    )


def test_a_loaded_plugin_is_recorded_with_its_distribution_and_hooks(site: Path) -> None:
    host = PluginHost()

    host.load_entry_points(Settings.from_env(ONLY_OURS))

    assert host.records["guard-good"] == PluginRecord(
        "guard-good", "guard-good", "1.0.0", ["synapse_before_run"]
    )


def test_a_name_already_registered_does_not_stop_the_other_entry_points(site: Path) -> None:
    ours = set(ONLY_OURS["SYNAPSE_LOAD_PLUGINS"].split(","))
    found = [ep.name for ep in importlib_metadata.entry_points(group="synapse_sdk.plugins")]
    first = next(name for name in found if name in ours)
    host = PluginHost()
    host.register(Hooks(), first)  # registered by hand under the first entry point's name

    host.load_entry_points(Settings.from_env(ONLY_OURS))

    assert set(host.records) >= ours
    assert host.records[first].distribution is None  # the hand-registered one was kept


class Hooks:
    """Hook implementations as a class instance; ``broken`` makes its hook raise."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken

    @hookimpl
    def synapse_before_run(self, action: object, context: object) -> None:
        if self.broken:
            raise RuntimeError("hook broke")


def test_a_host_records_a_registered_plugin_under_its_name_with_its_version() -> None:
    host = PluginHost()

    host.register(Hooks(), "hooks", distribution="hooks-dist", version="2.1")

    assert host.records["hooks"] == PluginRecord(
        "hooks", "hooks-dist", "2.1", ["synapse_before_run"]
    )


def test_registering_under_a_blocked_name_is_refused_naming_it() -> None:
    host = PluginHost()
    host.pm.set_blocked("hooks")

    with pytest.raises(ValueError, match="plugin 'hooks' is blocked or already registered"):
        host.register(Hooks(), "hooks")


def test_a_hook_that_raises_is_reported_with_its_error() -> None:
    host = PluginHost()
    host.register(Hooks(broken=True), "hooks")

    with pytest.raises(PluginHookError) as caught:
        host.call("synapse_before_run", action=None, context=None)

    assert str(caught.value).startswith(
        "plugin 'hooks' failed in synapse_before_run: RuntimeError: hook broke."
    )


def test_unregistering_a_plugin_removes_it_and_its_record() -> None:
    host = PluginHost()
    host.register(Hooks(), "kept")
    host.register(Hooks(), "dropped")

    host.unregister("dropped")

    assert list(host.records) == ["kept"]
    called: list[str] = []
    host.call("synapse_before_run", lambda plugin, _: called.append(plugin), action=1, context=2)
    assert called == ["kept"]


def test_a_host_made_with_the_plugins_of_another_has_them_in_the_same_order() -> None:
    host = PluginHost()
    host.register(Hooks(), "first", distribution="one", version="1")
    host.register(Hooks(), "second", distribution="two", version="2")

    copy = PluginHost.with_plugins(host.registered())

    assert [record for _, record in copy.registered()] == [
        record for _, record in host.registered()
    ]
    assert [plugin for plugin, _ in copy.registered()] == [
        plugin for plugin, _ in host.registered()
    ]


def test_each_settings_gets_its_own_host_loaded_once(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin_manager, "_HOSTS", {})  # as in a fresh process
    settings = Settings.from_env({**ONLY_OURS, "SYNAPSE_DISABLE_PLUGINS": "guard-crashing"})

    host = plugin_host(settings)

    assert isinstance(host, PluginHost)
    assert host.records["guard-good"].status == "loaded"
    assert host.records["guard-crashing"].status == "disabled"
    assert plugin_host(Settings.from_env(dict(settings.forwarded))) is host  # same settings
    elsewhere = Settings.from_env({**dict(settings.forwarded), "SYNAPSE_HOME": "/elsewhere"})
    assert plugin_host(elsewhere) is host  # the same plugin settings, another home
    other = plugin_host(Settings.from_env(ONLY_OURS))  # a later, different environment
    assert other is not host
    assert other.records["guard-crashing"].status == "failed"


def test_unregistering_a_name_that_is_not_registered_does_nothing() -> None:
    host = PluginHost()
    host.register(Hooks(), "kept")

    host.unregister("never-registered")

    assert list(host.records) == ["kept"]


def test_an_observer_hook_that_raises_is_logged_as_a_warning_naming_plugin_and_hook() -> None:
    host = PluginHost()
    host.register(Hooks(broken=True), "hooks")
    sink = RecordingSink()

    with capture_logs() as logs:
        host.notify("synapse_before_run", RuntimeContext(sinks=[sink]), action=None, context=None)

    [log] = sink.logs
    assert (log.message, log.level, log.data) == (
        "plugin_hook_failed",
        "warning",
        {"plugin": "hooks", "hook": "synapse_before_run", "error": "RuntimeError: hook broke"},
    )
    [entry] = [entry for entry in logs if entry["event"] == "plugin_hook_failed"]
    assert isinstance(entry["exc_info"], RuntimeError)


class BrokenWrapper:
    @hookimpl
    def synapse_wrap_step(self, action: object, step: object) -> None:
        raise RuntimeError("wrapper broke")


def test_a_chained_hook_that_raises_is_reported_naming_plugin_and_hook() -> None:
    host = PluginHost()
    host.register(BrokenWrapper(), "wrapper")

    with pytest.raises(PluginHookError) as caught:
        host.chain("synapse_wrap_step", "step", object(), lambda _, step: step, action=None)

    assert str(caught.value).startswith(
        "plugin 'wrapper' failed in synapse_wrap_step: RuntimeError: wrapper broke."
    )
