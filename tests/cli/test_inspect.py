"""``synapse --help/--version``, ``actions list/schema``, ``plugins list`` and ``plan``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from support.cli import Synapse


def test_help_everywhere(synapse: Synapse) -> None:
    for args in ([], ["actions"], ["actions", "list"], ["plugins", "list"], ["plan"], ["run"]):
        result = synapse(*args, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage: synapse" in result.stdout


def test_version(synapse: Synapse) -> None:
    from importlib.metadata import version

    result = synapse("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"synapse, version {version('synapse-sdk')}"


def test_actions_list_one_row_per_action_names_in_full(synapse: Synapse) -> None:
    result = synapse("actions", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "DISTRIBUTION", "VERSION", "STATUS", "DESCRIPTION"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["demo-upload"][:5] == ["demo-upload", "upload", "demo-actions", "1.2.0", "ok"]
    assert rows["demo-simple"][1] == "other"
    assert rows["demo-broken"][1:5] == ["broken", "demo-actions", "1.2.0", "broken:"]
    assert "No module named 'demo_missing_module'" in " ".join(rows["demo-broken"])
    # Narrow COLUMNS never wraps or truncates a row: one line per installed action.
    installed = json.loads(synapse("actions", "list", "--json").stdout)
    assert len(lines) == 1 + len(installed)
    assert sorted(rows) == sorted(entry["name"] for entry in installed)


def test_actions_list_json(synapse: Synapse) -> None:
    result = synapse("actions", "list", "--json")
    entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert entries["demo-upload"]["kind"] == "upload"
    assert entries["demo-broken"]["error"]


def test_actions_schema_json(synapse: Synapse) -> None:
    result = synapse("actions", "schema", "demo-upload", "--json")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(schema["required"]) == {"source", "target"}
    assert schema["properties"]["token"]["anyOf"][0]["format"] == "password"


def test_plugins_list_shows_hooks_and_load_errors(synapse: Synapse) -> None:
    result = synapse("plugins", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "DISTRIBUTION", "VERSION", "HOOKS", "ERROR"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["announce"].split()[:5] == [
        "announce",
        "loaded",
        "demo-hooks",
        "0.3.0",
        "synapse_setup_steps",
    ]
    assert rows["stamp"].split()[4] == "synapse_wrap_step"
    assert rows["exploding"].split()[:4] == ["exploding", "failed", "demo-broken-plugin", "0.0.1"]
    assert "ImportError: demo_exploding needs a library that is not installed" in rows["exploding"]
    listed = json.loads(synapse("plugins", "list", "--json").stdout)
    assert {entry["name"]: entry["status"] for entry in listed}["exploding"] == "failed"


def test_plan_shows_order_weight_origin_wrappers_and_rollback(synapse: Synapse) -> None:
    result = synapse("plan", "demo-upload")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Plan for 'demo-upload' (upload), 4 steps:"
    assert lines[1].split() == ["#", "STEP", "WEIGHT", "FROM", "WRAPPED", "BY", "OWN", "ROLLBACK"]
    rows = [line.split() for line in lines[2:6]]
    assert rows == [
        ["1", "list_files", "10.0%", "action", "stamp", "no"],
        ["2", "announce", "0.0%", "announce", "stamp", "no"],
        ["3", "copy", "80.0%", "action", "stamp", "yes"],
        ["4", "finish", "10.0%", "action", "stamp", "no"],
    ]
    # "no" is not "never undone": the plan says what undoes the others.
    assert "Writes through context.storage are undone by the SDK" in result.stdout
    assert "warning: plugin 'exploding' (demo-broken-plugin) failed to load" in result.stderr


def test_plan_json_and_disabled_plugin(synapse: Synapse) -> None:
    result = synapse("plan", "demo-upload", "--json", SYNAPSE_DISABLE_PLUGINS="stamp,exploding")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [step["name"] for step in plan["steps"]] == ["list_files", "announce", "copy", "finish"]
    assert result.stderr == ""


def test_strict_plugins_turn_a_broken_plugin_into_an_error(synapse: Synapse) -> None:
    result = synapse("plan", "demo-upload", SYNAPSE_STRICT_PLUGINS="1")
    assert result.returncode == 2
    assert "plugin 'exploding' from demo-broken-plugin failed to load" in result.stderr
    assert "Traceback" not in result.stderr


HEAVY = ("PIL", "numpy", "sklearn", "pycocotools", "ray")
EXAMPLE_ACTIONS = ("export-annotations", "train-classifier", "upload-files")


def test_actions_list_imports_every_example_action_but_no_heavy_library(tmp_path: Path) -> None:
    """`synapse actions list` imports each installed action's module; the examples keep
    Pillow, numpy, scikit-learn and pycocotools inside their steps, and Ray stays out."""
    script = textwrap.dedent(
        """
        import json, sys
        from synapse_sdk.console import main

        modules_file = sys.argv[1]
        sys.argv = ["synapse", "actions", "list", "--json"]
        try:
            main()
        finally:
            with open(modules_file, "w") as out:
                json.dump(sorted(sys.modules), out)
        """
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SYNAPSE_", "PYTHONPATH"))
    }
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "modules.json")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "SYNAPSE_HOME": str(tmp_path / "home")},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    for name in EXAMPLE_ACTIONS:
        assert listed[name]["error"] is None, listed[name]
    modules = json.loads((tmp_path / "modules.json").read_text(encoding="utf-8"))
    # The examples' modules were imported, the one that reads images included.
    assert "synapse_export_annotations.dataset" in modules
    assert "synapse_train_classifier.steps" in modules
    heavy = [name for name in modules if name.split(".", 1)[0] in HEAVY]
    assert heavy == []
