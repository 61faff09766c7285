"""What ``synapse run``, ``runs rollback``, ``runs show`` and ``actions`` print (real command)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import Synapse
from support.crashy import install_crashy

PLUGINS = {"SYNAPSE_LOAD_PLUGINS": "announce,stamp"}  # no broken plugin's warning


@pytest.fixture
def home(tmp_path: Path) -> str:
    return str(tmp_path / "home")


def run_crashy(synapse: Synapse, tmp_path: Path, home: str, *options: str, mode: str) -> Any:
    install_crashy(tmp_path / "site")
    params = json.dumps({"output_uri": str(tmp_path / "out"), "mode": mode})
    env = {"SYNAPSE_HOME": home, "COLUMNS": "100", **PLUGINS}  # step lines unwrapped
    return synapse("run", "crashy", *options, "--params", params, **env)


def test_default_screen_is_steps_and_result(synapse: Synapse, tmp_path: Path, home: str) -> None:
    result = run_crashy(synapse, tmp_path, home, mode="fine")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"success": True, "steps_executed": 2, "steps_total": 2}
    lines = result.stderr.splitlines()
    assert lines[:2] == ["✓ load", "✓ prepare"]
    assert lines[-1].startswith("✓ crashy finished in ")
    for noise in ("run_started", "params", "metrics", "loaded", "rows="):
        assert noise not in result.stderr


def test_verbose_adds_logs_and_metrics(synapse: Synapse, tmp_path: Path, home: str) -> None:
    result = run_crashy(synapse, tmp_path, home, "-v", mode="fine")
    assert result.returncode == 0, result.stderr
    assert "run_started action=crashy" in result.stderr
    assert "load loaded rows=3" in result.stderr
    assert "metrics load rows=3" in result.stderr
    assert "✓ load" in result.stderr


@pytest.mark.parametrize("options", [("-q",), ("--quiet", "--json")])
def test_quiet_shows_only_the_result(
    synapse: Synapse, tmp_path: Path, home: str, options: tuple[str, ...]
) -> None:
    result = run_crashy(synapse, tmp_path, home, *options, mode="fine")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [line] = result.stdout.splitlines()
    shown = json.loads(line)
    assert shown.get("result", shown) == {"success": True, "steps_executed": 2, "steps_total": 2}


def test_quiet_still_prints_the_error(synapse: Synapse, tmp_path: Path, home: str) -> None:
    result = run_crashy(synapse, tmp_path, home, "-q", mode="crash")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: step 'prepare' failed: ZeroDivisionError")


def test_verbose_and_quiet_together_are_bad_usage(synapse: Synapse) -> None:
    result = synapse("run", "crashy", "-v", "-q")
    assert result.returncode == 2
    assert "give either -v/--verbose or -q/--quiet, not both" in result.stderr


def test_rollback_says_nothing_to_undo_for_steps_without_rollback(
    synapse: Synapse, tmp_path: Path, home: str
) -> None:
    result = run_crashy(synapse, tmp_path, home, mode="crash")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[:4] == [
        "✓ load",
        "✗ prepare failed: division by zero",
        "↺ prepare: nothing to undo",
        "↺ load rolled back",
    ]


def kill_during_copy(synapse: Synapse, source: Path, target: Path, home: str) -> str:
    """Start a demo upload, kill -9 it in its copy step; return its run id."""
    params = json.dumps({"source": str(source), "target": str(target), "hang_in_copy": 1.0})
    process = synapse.popen(
        "run", "demo-upload", "--json", "--params", params, SYNAPSE_HOME=home, **PLUGINS
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and event["step"] == "copy":
            break
        assert time.monotonic() < deadline
    process.kill()
    process.communicate(timeout=30)
    listed = synapse("runs", "list", "--json", SYNAPSE_HOME=home)
    run_id: str = json.loads(listed.stdout)[0]["run_id"]
    return run_id


def test_runs_rollback_renders_like_run(
    synapse: Synapse, source_dir: Path, tmp_path: Path, home: str
) -> None:
    run_id = kill_during_copy(synapse, source_dir, tmp_path / "target", home)
    result = synapse("runs", "rollback", run_id, SYNAPSE_HOME=home, **PLUGINS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"run {run_id} (demo-upload): rolled_back\n"
    assert result.stderr.splitlines() == [
        "copy copy_rolled_back removed=1",  # a warning: shown by default
        "↺ copy rolled back",
        "↺ announce: nothing to undo",
        "↺ list_files: nothing to undo",
    ]


def test_runs_show_summarises_rollback_data(
    synapse: Synapse, source_dir: Path, tmp_path: Path, home: str
) -> None:
    params = json.dumps({"source": str(source_dir), "target": str(tmp_path / "t")})
    done = synapse("run", "demo-upload", "--json", "--params", params, SYNAPSE_HOME=home, **PLUGINS)
    run_id = json.loads(done.stdout.splitlines()[-1])["run_id"]

    shown = synapse("runs", "show", run_id, SYNAPSE_HOME=home).stdout
    rows = {line.split()[1]: line for line in shown.splitlines() if line[:1].isdigit()}
    assert rows["copy"].split()[2:] == ["succeeded", "written:", "5"]
    assert rows["list_files"].split()[2:] == ["succeeded", "-"]
    assert "rollback data of copy:\n  written: 5 items\n" in shown
    assert '    "file0.txt"\n    "file1.txt"\n    "file2.txt"\n    ... and 2 more\n' in shown
    assert "file4.txt" not in shown
    assert f"all: synapse runs show {run_id} --full" in shown

    full = synapse("runs", "show", run_id, "--full", SYNAPSE_HOME=home).stdout
    assert '{"written": ["file0.txt", "file1.txt", "file2.txt", "file3.txt", "file4.txt"]}' in full

    as_json = json.loads(synapse("runs", "show", run_id, "--json", SYNAPSE_HOME=home).stdout)
    [copy] = [step for step in as_json["steps"] if step["name"] == "copy"]
    assert len(copy["rollback_data"]["written"]) == 5


def test_actions_schema_is_a_table_with_secrets_marked(synapse: Synapse) -> None:
    result = synapse("actions", "schema", "demo-upload")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Params of 'demo-upload' (upload):"
    assert lines[1].split() == ["FIELD", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["source"].split()[:4] == ["source", "string", "yes", "-"]
    assert rows["hang_in_copy"].split()[:4] == ["hang_in_copy", "number", "no", "0.0"]
    assert "Seconds to sleep in copy after each file." in rows["hang_in_copy"]
    assert rows["token"].split()[:6] == ["token", "string", "(secret)", "or", "null", "no"]


def test_actions_list_describes_each_action(synapse: Synapse) -> None:
    result = synapse("actions", "list")
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert rows["demo-upload"].endswith(" Copies the files of a directory into another directory.")
    assert rows["demo-simple"].endswith("No steps: execute() does the job.")
    listed = {
        entry["name"]: entry for entry in json.loads(synapse("actions", "list", "--json").stdout)
    }
    assert (
        listed["demo-upload"]["description"]
        == "Copies the files of a directory into another directory."
    )
