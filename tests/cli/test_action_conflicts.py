"""Two installed distributions that claim the same action name: neither silently wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import Synapse
from support.distributions import make_distribution

ACTION = '''
"""The convert action of {dist}."""

from synapse_sdk.plugins import BaseAction


class Convert(BaseAction):
    """Converts, the {dist} way."""

    def execute(self):
        return {{"converted_by": "{dist}"}}
'''


@pytest.fixture
def synapse(tmp_path: Path) -> Synapse:
    """``acme-tools`` and ``zenith-tools`` both install an action named ``convert``."""
    site = tmp_path / "site"
    for dist in ("acme-tools", "zenith-tools"):
        module = f"{dist.replace('-', '_')}_convert"
        make_distribution(
            site,
            dist,
            "1.0.0" if dist == "acme-tools" else "2.3.0",
            modules={module: ACTION.format(dist=dist)},
            entry_points={"synapse_sdk.actions": {"convert": f"{module}:Convert"}},
        )
    make_distribution(
        site,
        "solo-tools",
        "0.1.0",
        modules={"solo_convert": ACTION.format(dist="solo-tools")},
        entry_points={"synapse_sdk.actions": {"solo": "solo_convert:Convert"}},
    )
    runner = Synapse(site, tmp_path)
    runner.env["SYNAPSE_HOME"] = str(tmp_path / "home")
    return runner


def test_actions_list_shows_the_conflict_and_both_distributions(synapse: Synapse) -> None:
    listed = synapse("actions", "list", "--json")
    table = synapse("actions", "list", COLUMNS="200")

    assert listed.returncode == 0, listed.stderr
    convert = [entry for entry in json.loads(listed.stdout) if entry["name"] == "convert"]
    assert [(e["distribution"], e["version"], e["conflicts_with"]) for e in convert] == [
        ("acme-tools", "1.0.0", ["zenith-tools"]),
        ("zenith-tools", "2.3.0", ["acme-tools"]),
    ]
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if line.startswith("convert ")]
    assert len(rows) == 2
    assert "conflict (also in zenith-tools): run as acme-tools:convert" in rows[0]
    assert "conflict (also in acme-tools): run as zenith-tools:convert" in rows[1]
    assert (
        "action 'convert' is installed by 2 distributions; 'synapse run convert' refuses to "
        "guess: run acme-tools:convert or zenith-tools:convert" in table.stderr
    )


def test_run_by_the_bare_name_exits_2_naming_both_and_how_to_choose(synapse: Synapse) -> None:
    result = synapse("run", "convert")

    assert result.returncode == 2
    assert result.stdout == ""
    error = result.stderr
    assert error.startswith(
        "error: action 'convert' is installed by 2 distributions: acme-tools 1.0.0, "
        "zenith-tools 2.3.0. Name the one to run with its distribution "
        "('acme-tools:convert' or 'zenith-tools:convert'), or hide one with "
        "SYNAPSE_DISABLE_PLUGINS=zenith-tools:convert, or uninstall it (pip uninstall "
        "zenith-tools)"
    )


@pytest.mark.parametrize("dist", ["acme-tools", "zenith-tools", "Zenith_Tools"])
def test_run_dist_colon_name_runs_that_distributions_action(synapse: Synapse, dist: str) -> None:
    result = synapse("run", f"{dist}:convert")

    assert result.returncode == 0, result.stderr
    expected = "zenith-tools" if dist == "Zenith_Tools" else dist
    assert json.loads(result.stdout) == {"converted_by": expected}


def test_a_distribution_that_does_not_install_the_name_is_refused_with_the_choices(
    synapse: Synapse,
) -> None:
    result = synapse("run", "solo-tools:convert")

    assert result.returncode == 2
    assert "installed actions: acme-tools:convert, zenith-tools:convert" in result.stderr


def test_disabling_one_lets_the_bare_name_run_the_other(synapse: Synapse) -> None:
    hidden = {"SYNAPSE_DISABLE_PLUGINS": "zenith-tools:convert"}

    result = synapse("run", "convert", **hidden)
    listed = synapse("actions", "list", "--json", **hidden)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"converted_by": "acme-tools"}
    convert = [entry for entry in json.loads(listed.stdout) if entry["name"] == "convert"]
    assert [(e["distribution"], e["conflicts_with"]) for e in convert] == [("acme-tools", [])]


@pytest.mark.parametrize(
    "command",
    [
        ("actions", "list"),
        ("run", "convert"),
        ("run", "acme-tools:convert"),
        ("run", "solo"),
        ("plan", "solo"),
    ],
    ids=" ".join,
)
def test_strict_mode_makes_the_conflict_an_error_everywhere(
    synapse: Synapse, command: tuple[str, ...]
) -> None:
    result = synapse(*command, SYNAPSE_STRICT_PLUGINS="1")

    assert result.returncode == 2, result.stdout
    assert (
        "error: action 'convert' is installed by 2 distributions: acme-tools 1.0.0, "
        "zenith-tools 2.3.0, and SYNAPSE_STRICT_PLUGINS is on: hide one with "
        "SYNAPSE_DISABLE_PLUGINS=zenith-tools:convert" in result.stderr
    )


def test_an_action_without_a_conflict_runs_by_its_name(synapse: Synapse) -> None:
    result = synapse("run", "solo")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"converted_by": "solo-tools"}


@pytest.mark.parametrize(
    ("name", "claim"),
    [
        ("convert", "action 'convert' from acme-tools 1.0.0; action 'convert' from zenith-tools"),
        ("solo-tools", "distribution solo-tools 0.1.0"),
    ],
)
def test_new_plugin_refuses_a_name_that_is_already_installed(
    synapse: Synapse, tmp_path: Path, name: str, claim: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()

    result = synapse("new", "plugin", name, "--kind", "upload", "--directory", str(work))

    assert result.returncode == 2
    assert f"error: '{name}' is already installed ({claim}" in result.stderr
    assert "Choose another name" in result.stderr
    assert list(work.iterdir()) == []
