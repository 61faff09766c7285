"""Discovery: real installed distributions (dist-info on sys.path) found by entry points."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.distributions import make_distribution

from synapse_sdk.actions.catalog import discover_actions, resolve_action
from synapse_sdk.errors import ActionLoadError, ActionNotFoundError, PluginLoadError
from synapse_sdk.plugins import PluginHost
from synapse_sdk.runtime.settings import Settings


def test_actions_are_discovered_with_distribution_and_kind(demo_site: Path) -> None:
    entries = {entry.name: entry for entry in discover_actions()}
    upload = entries["demo-upload"]
    assert (upload.kind, upload.distribution, upload.version) == ("upload", "demo-actions", "1.2.0")
    assert upload.action_class is not None
    assert upload.action_class.__name__ == "DemoUpload"
    assert entries["demo-simple"].kind == "other"
    broken = entries["demo-broken"]
    assert broken.kind == "broken"
    assert broken.action_class is None
    assert "ModuleNotFoundError" in (broken.error or "")
    assert "demo_missing_module" in (broken.error or "")


def test_resolving_names(demo_site: Path) -> None:
    action_class, name = resolve_action("demo-upload")
    assert (action_class.__name__, name) == ("DemoUpload", "demo-upload")
    action_class, name = resolve_action("demo_actions:DemoSimple")
    assert action_class.__name__ == "DemoSimple"
    with pytest.raises(
        ActionNotFoundError, match=r"installed actions: .*demo-simple, demo-upload"
    ) as caught:
        resolve_action("demo-uplaod")
    assert isinstance(caught.value, LookupError)
    with pytest.raises(ActionLoadError, match="demo-broken"):
        resolve_action("demo-broken")


def test_plugins_load_in_isolation(demo_site: Path, tmp_path: Path) -> None:
    host = PluginHost()
    failures = host.load_entry_points(
        Settings.from_env({"DEMO_SENTINEL_FILE": str(tmp_path / "s")})
    )
    assert [record.name for record in failures] == ["exploding"]
    exploding = host.records["exploding"]
    assert exploding.distribution == "demo-broken-plugin"
    assert exploding.version == "0.0.1"
    assert exploding.error == "ImportError: demo_exploding needs a library that is not installed"
    assert host.records["announce"].status == "loaded"
    assert host.records["announce"].hooks == ["synapse_setup_steps"]
    assert host.records["stamp"].hooks == ["synapse_wrap_step"]
    assert host.records["sentinel"].status == "loaded"


def test_strict_mode_turns_a_failure_into_an_error(demo_site: Path) -> None:
    with pytest.raises(PluginLoadError, match="'exploding' from demo-broken-plugin failed to load"):
        PluginHost().load_entry_points(Settings.from_env({"SYNAPSE_STRICT_PLUGINS": "1"}))


def test_disabled_plugins_are_never_imported(demo_site: Path, tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel-file"
    host = PluginHost()
    failures = host.load_entry_points(
        Settings.from_env(
            {"SYNAPSE_DISABLE_PLUGINS": "sentinel, exploding", "DEMO_SENTINEL_FILE": str(sentinel)}
        )
    )
    assert failures == []
    assert host.records["sentinel"].status == "disabled"
    assert host.records["exploding"].status == "disabled"
    assert not sentinel.exists()
    host.load_entry_points(
        Settings.from_env({"DEMO_SENTINEL_FILE": str(sentinel)})
    )  # already known: skipped
    assert not sentinel.exists()


def test_installed_hooks_shape_an_installed_action(demo_site: Path) -> None:
    host = PluginHost()
    host.load_entry_points(Settings.from_env({"SYNAPSE_LOAD_PLUGINS": "announce,stamp"}))
    action_class, name = resolve_action("demo-upload")
    plan = action_class.for_planning(plugins=host, name=name).plan()
    assert plan.names == [
        "list_files",
        "announce",
        "copy",
        "finish",
    ]
    assert plan.steps[1].contributed_by == "announce"
    assert {step.wrapped_by for step in plan.steps} == {("stamp",)}


def test_load_plugins_allow_list(demo_site: Path, tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel-file"
    host = PluginHost()
    failures = host.load_entry_points(
        Settings.from_env({"SYNAPSE_LOAD_PLUGINS": "announce", "DEMO_SENTINEL_FILE": str(sentinel)})
    )
    assert failures == []
    assert host.records["announce"].status == "loaded"
    assert {host.records[name].status for name in ("stamp", "exploding", "sentinel")} == {
        "disabled"
    }
    assert not sentinel.exists()
    nothing = PluginHost()
    nothing.load_entry_points(Settings.from_env({"SYNAPSE_LOAD_PLUGINS": ""}))
    assert {record.status for record in nothing.records.values()} == {"disabled"}


def test_a_plugin_object_inside_a_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    make_distribution(
        site,
        "attr-plugin",
        "2.0",
        modules={
            "attr_plugin_mod": (
                "from synapse_sdk.plugins import hookimpl\n"
                "class _Plugin:\n"
                "    @hookimpl\n"
                "    def synapse_before_run(self):\n"
                "        pass\n"
                "plugin = _Plugin()\n"
            )
        },
        entry_points={"synapse_sdk.plugins": {"attr": "attr_plugin_mod:plugin"}},
    )
    monkeypatch.syspath_prepend(str(site))
    host = PluginHost()
    assert host.load_entry_points(Settings.from_env({})) == []
    assert host.records["attr"].hooks == ["synapse_before_run"]
    assert host.records["attr"].distribution == "attr-plugin"
