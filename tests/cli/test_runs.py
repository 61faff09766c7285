"""``synapse runs`` and signals: SIGTERM, kill -9 and recovery through the real command."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from support.cli import Synapse


def params(source: Path, target: Path, **extra: Any) -> str:
    return json.dumps({"source": str(source), "target": str(target), **extra})


def start_and_wait_for_copy(synapse: Synapse, source: Path, target: Path, **env: str) -> Any:
    process = synapse.popen(
        "run", "demo-upload", "--json", "--params", params(source, target, hang_in_copy=1.0), **env
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and event["step"] == "copy":
            return process
        assert time.monotonic() < deadline
    raise AssertionError("the copy step never reported progress")


def runs(synapse: Synapse, **env: str) -> list[dict[str, Any]]:
    result = synapse("runs", "list", "--json", **env)
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def test_sigterm_rolls_back_and_exits_143(
    synapse: Synapse, source_dir: Path, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    target = tmp_path / "target"
    process = start_and_wait_for_copy(synapse, source_dir, target, SYNAPSE_HOME=home)
    assert any(target.iterdir())
    process.send_signal(signal.SIGTERM)
    remaining, stderr = process.communicate(timeout=30)
    assert process.returncode == 143
    assert not target.exists()
    assert "terminated; the steps that ran were rolled back" in stderr
    assert json.loads(remaining.splitlines()[-1])["exit_code"] == 143
    [run] = runs(synapse, SYNAPSE_HOME=home)
    assert (run["action"], run["state"]) == ("demo-upload", "rolled_back")


def test_kill_9_then_runs_rollback_restores_the_target(
    synapse: Synapse, source_dir: Path, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("was here before")
    process = start_and_wait_for_copy(synapse, source_dir, target, SYNAPSE_HOME=home)
    process.kill()
    process.communicate(timeout=30)
    assert len(list(target.iterdir())) > 1

    [run] = runs(synapse, SYNAPSE_HOME=home)
    assert run["state"] == "needs_rollback"
    listing = synapse("runs", "list", SYNAPSE_HOME=home)
    assert f"needs_rollback (run: synapse runs rollback {run['run_id']})" in listing.stdout
    shown = json.loads(synapse("runs", "show", run["run_id"], "--json", SYNAPSE_HOME=home).stdout)
    assert [step["state"] for step in shown["steps"]] == ["succeeded", "succeeded", "started"]
    assert shown["steps"][2]["rollback_data"]["written"]

    recovered = synapse("runs", "rollback", run["run_id"], "--json", SYNAPSE_HOME=home)
    assert recovered.returncode == 0, recovered.stderr
    assert json.loads(recovered.stdout) == {
        "run_id": run["run_id"],
        "action": "demo-upload",
        "state": "rolled_back",
    }
    assert [path.name for path in target.iterdir()] == ["keep.txt"]

    again = synapse("runs", "rollback", run["run_id"], SYNAPSE_HOME=home)
    assert again.returncode == 2
    assert "is rolled_back; only unfinished runs need a rollback" in again.stderr


def test_runs_show_and_rollback_unknown_ids(synapse: Synapse, tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    for command in (["runs", "show", "nope"], ["runs", "rollback", "nope"]):
        result = synapse(*command, SYNAPSE_HOME=home)
        assert result.returncode == 2
        assert "no run with id 'nope'" in result.stderr
        assert "Traceback" not in result.stderr


def test_corrupted_journal_is_reported_and_left_alone(
    synapse: Synapse, source_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    journal = home / "runs.db"
    journal.write_bytes(b"garbage" * 1000)
    result = synapse(
        "run", "demo-upload", "--params", params(source_dir, tmp_path / "t"), SYNAPSE_HOME=str(home)
    )
    assert result.returncode == 1
    assert "is corrupted" in result.stderr
    assert "Traceback" not in result.stderr
    assert journal.read_bytes() == b"garbage" * 1000
    assert not (tmp_path / "t").exists()
    listing = synapse("runs", "list", SYNAPSE_HOME=str(home))
    assert listing.returncode == 1
    assert "is corrupted" in listing.stderr


def test_successful_runs_are_listed(synapse: Synapse, source_dir: Path, tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    done = synapse(
        "run", "demo-upload", "--params", params(source_dir, tmp_path / "t"), SYNAPSE_HOME=home
    )
    assert done.returncode == 0, done.stderr
    failed = synapse(
        "run",
        "demo-upload",
        "--params",
        params(source_dir, tmp_path / "u", fail_at="finish"),
        SYNAPSE_HOME=home,
    )
    assert failed.returncode == 1
    states = [(run["action"], run["state"]) for run in runs(synapse, SYNAPSE_HOME=home)]
    assert states == [("demo-upload", "rolled_back"), ("demo-upload", "succeeded")]
