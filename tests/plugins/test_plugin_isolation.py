"""A plugin that calls ``sys.exit()`` (or raises anything) at import is just a broken plugin.

The fake distributions are real: modules plus a ``.dist-info`` in a folder on the path,
found through entry points as a ``pip install`` would be, loaded in this process and by
the real ``synapse`` command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import Synapse
from support.distributions import install_demo, make_distribution

from synapse_sdk.actions.catalog import discover_actions, resolve_action
from synapse_sdk.errors import ActionLoadError, PluginLoadError
from synapse_sdk.plugins import PluginHost
from synapse_sdk.runtime.settings import Settings

LOADED = "announce,stamp,exiting,exiting_silently,exiting_with_text,raising"

EXITING_MODULES = {
    "demo_exit_code": "import sys\nsys.exit(3)\n",
    "demo_exit_silently": "raise SystemExit\n",
    "demo_exit_text": "import sys\nsys.exit('demo_exit_text refuses to run here')\n",
    "demo_raising": "raise LookupError('demo_raising found no configuration')\n",
    "demo_exit_action": "import sys\nsys.exit(4)\n",
}


def add_exiting(site: Path) -> Path:
    """Install ``demo-exiting 0.1.0`` in ``site``: every one of its entry points fails."""
    make_distribution(
        site,
        "demo-exiting",
        "0.1.0",
        modules=EXITING_MODULES,
        entry_points={
            "synapse_sdk.plugins": {
                "exiting": "demo_exit_code",
                "exiting_silently": "demo_exit_silently",
                "exiting_with_text": "demo_exit_text",
                "raising": "demo_raising",
            },
            "synapse_sdk.actions": {"demo-exiting": "demo_exit_action:Nothing"},
        },
    )
    return site


@pytest.fixture
def exiting_site(demo_site: Path) -> Path:
    """The demo site (on sys.path) with ``demo-exiting`` added."""
    return add_exiting(demo_site)


@pytest.fixture
def cli(tmp_path: Path) -> Synapse:
    synapse = Synapse(add_exiting(install_demo(tmp_path / "site")), tmp_path)
    synapse.env["SYNAPSE_LOAD_PLUGINS"] = LOADED
    return synapse


EXPECTED_ERRORS = {
    "exiting": "SystemExit: 3",
    "exiting_silently": "SystemExit",
    "exiting_with_text": "SystemExit: demo_exit_text refuses to run here",
    "raising": "LookupError: demo_raising found no configuration",
}


def test_plugins_exiting_at_import_are_recorded_as_failed(exiting_site: Path) -> None:
    host = PluginHost()
    failures = host.load_entry_points(Settings.from_env({"SYNAPSE_LOAD_PLUGINS": LOADED}))
    assert {record.name: record.error for record in failures} == EXPECTED_ERRORS
    assert {record.distribution for record in failures} == {"demo-exiting"}
    assert host.records["stamp"].status == "loaded"
    assert host.records["announce"].status == "loaded"


def test_strict_mode_makes_an_exiting_plugin_an_error_chained_to_its_exit(
    exiting_site: Path,
) -> None:
    env = {"SYNAPSE_LOAD_PLUGINS": "exiting", "SYNAPSE_STRICT_PLUGINS": "1"}
    with pytest.raises(PluginLoadError, match="'exiting' from demo-exiting failed") as caught:
        PluginHost().load_entry_points(Settings.from_env(env))
    assert isinstance(caught.value.__cause__, SystemExit)
    assert caught.value.__cause__.code == 3


def test_keyboard_interrupt_at_import_is_not_swallowed(exiting_site: Path) -> None:
    make_distribution(
        exiting_site,
        "demo-interrupted",
        "0.1.0",
        modules={"demo_interrupted": "raise KeyboardInterrupt\n"},
        entry_points={"synapse_sdk.plugins": {"interrupted": "demo_interrupted"}},
    )
    with pytest.raises(KeyboardInterrupt):
        PluginHost().load_entry_points(Settings.from_env({"SYNAPSE_LOAD_PLUGINS": "interrupted"}))


def test_an_action_exiting_at_import_is_a_broken_action(exiting_site: Path) -> None:
    entries = {entry.name: entry for entry in discover_actions()}
    assert entries["demo-exiting"].kind == "broken"
    assert entries["demo-exiting"].error == "SystemExit: 4"
    assert entries["demo-upload"].action_class is not None
    with pytest.raises(ActionLoadError, match=r"'demo-exiting'.*SystemExit: 4") as caught:
        resolve_action("demo-exiting")
    assert isinstance(caught.value.__cause__, SystemExit)


def test_plugins_list_shows_exiting_plugins_as_failed(cli: Synapse) -> None:
    result = cli("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert {name: listed[name]["error"] for name in EXPECTED_ERRORS} == EXPECTED_ERRORS
    assert {listed[name]["status"] for name in EXPECTED_ERRORS} == {"failed"}
    assert listed["stamp"]["status"] == "loaded"
    table = cli("plugins", "list")
    assert table.returncode == 0, table.stderr
    assert "SystemExit: 3" in table.stdout


def test_actions_list_shows_an_exiting_action_as_broken(cli: Synapse) -> None:
    result = cli("actions", "list")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "broken: SystemExit: 4" in rows["demo-exiting"]
    assert rows["demo-upload"].split()[1] == "upload"


def test_other_commands_still_work_next_to_exiting_plugins(cli: Synapse, tmp_path: Path) -> None:
    result = cli("run", "demo-simple", "--params", '{"word": "still here"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"shout": "STILL HERE"}
    assert "warning: plugin 'exiting' (demo-exiting) failed to load: SystemExit: 3" in (
        result.stderr
    )
    broken = cli("run", "demo-exiting", "--params", "{}")
    assert broken.returncode == 1
    assert broken.stderr.splitlines()[-1].startswith("error: action 'demo-exiting'")
    assert "SystemExit: 4" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_strict_mode_turns_an_exiting_plugin_into_a_command_error(cli: Synapse) -> None:
    result = cli("plugins", "list", SYNAPSE_STRICT_PLUGINS="1")
    assert result.returncode == 2
    assert result.stderr.startswith("error: plugin 'exiting' from demo-exiting failed to load")
    assert "SystemExit: 3 (SYNAPSE_STRICT_PLUGINS is on)" in result.stderr
    assert "Traceback" not in result.stderr
