"""The plugin host's isolation of broken plugins, against real installed distributions.

Each test installs fake distributions (a module plus its ``.dist-info`` with entry points)
in a directory on ``sys.path``: the path ``pip install`` takes, as far as discovery goes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.distributions import make_distribution

from synapse_sdk.exceptions import PluginLoadError
from synapse_sdk.plugins import PluginHost, RuntimeContext

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

    failures = host.load_entry_points(ONLY_OURS)

    assert {record.name for record in failures} == {"guard-crashing", "guard-misspelt"}
    assert host.records["guard-crashing"].error == (
        "RuntimeError: guard_crashing cannot find its config file"
    )
    assert host.records["guard-good"].status == "loaded"


def test_a_plugin_failing_validation_is_not_left_registered(site: Path) -> None:
    host = PluginHost()

    host.load_entry_points(ONLY_OURS)

    assert host.records["guard-misspelt"].status == "failed"
    assert "guard-misspelt" not in [record.name for _, record in host.registered()]
    host.notify("synapse_before_run", RuntimeContext(), action=None, context=None)
    assert sys.modules["guard_misspelt"].CALLS == []


def test_loading_entry_points_again_keeps_the_plugins_already_loaded(site: Path) -> None:
    host = PluginHost()
    host.load_entry_points(ONLY_OURS)
    before = {name: (record.status, record.error) for name, record in host.records.items()}

    assert host.load_entry_points(ONLY_OURS) == []

    after = {name: (record.status, record.error) for name, record in host.records.items()}
    assert after == before
    assert [
        name for name, _ in host.call_each("synapse_before_run", action=None, context=None)
    ] == ["guard-good"]


def test_strict_mode_chains_the_plugins_own_error(site: Path) -> None:
    with pytest.raises(PluginLoadError, match="'guard-crashing' from guard-crashing") as caught:
        PluginHost().load_entry_points(
            {"SYNAPSE_LOAD_PLUGINS": "guard-good,guard-crashing", "SYNAPSE_STRICT_PLUGINS": "1"}
        )

    cause = caught.value.__cause__
    assert isinstance(cause, RuntimeError)
    assert str(cause) == "guard_crashing cannot find its config file"
