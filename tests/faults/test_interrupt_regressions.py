"""Signals at the moments that used to break the promise, through the real command.

Each test sends a real signal at a precise place: while the fan-out is still handing
items to its threads, between a journal transaction's ``BEGIN`` and ``COMMIT``, a second
one while the first is being handled, at start-up, or SIGHUP (a closed terminal). The
target must end as it was, the journal must say so, and the exit code must name the
signal.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import SYNAPSE, Synapse
from support.interrupts import snapshot as tree

DRIVER = str(Path(__file__).parents[1] / "support" / "signal_driver.py")
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


def drive(
    synapse: Synapse, where: str, nth: int, signame: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real command line, with ``signame`` sent the ``nth`` time it reaches ``where``."""
    return subprocess.run(
        [sys.executable, DRIVER, where, str(nth), signame, "--", *args],
        env={**synapse.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def runs(synapse: Synapse, home: Path) -> list[dict[str, Any]]:
    listed = synapse("runs", "list", "--json", SYNAPSE_HOME=str(home))
    assert listed.returncode == 0, listed.stderr
    found: list[dict[str, Any]] = json.loads(listed.stdout)
    return found


def fan_out_params(target: Path, items: int = 40, delay: float = 0.02) -> str:
    return json.dumps({"target": str(target), "items": items, "delay": delay})


@pytest.fixture
def target(tmp_path: Path) -> Path:
    folder = tmp_path / "target"
    folder.mkdir()
    (folder / "unrelated.txt").write_text("was here before")
    return folder


@pytest.mark.parametrize("signame", sorted(EXIT_CODES))
@pytest.mark.parametrize("nth", [1, 2, 17])
def test_a_signal_while_items_are_still_being_submitted_is_rolled_back_exactly(
    synapse: Synapse, tmp_path: Path, target: Path, signame: str, nth: int
) -> None:
    home = tmp_path / "home"
    before = tree(target)
    result = drive(
        synapse, "submit", nth, signame, "run", "demo-fanout", "--params",
        fan_out_params(target), SYNAPSE_HOME=str(home),
    )  # fmt: skip
    assert result.returncode == EXIT_CODES[signame], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    [run] = runs(synapse, home)
    assert run["state"] == "rolled_back"
    assert tree(target) == before
    time.sleep(0.5)  # nothing of the stopped fan-out is still writing
    assert tree(target) == before


@pytest.mark.parametrize("signame", sorted(EXIT_CODES))
@pytest.mark.parametrize("statement", ["UPDATE steps", "INSERT INTO steps", "COMMIT"])
def test_a_signal_inside_a_journal_transaction_still_ends_in_a_recorded_rollback(
    synapse: Synapse, tmp_path: Path, target: Path, signame: str, statement: str
) -> None:
    home = tmp_path / "home"
    before = tree(target)
    # The 3rd such statement is in the middle of the run: the first step is journalled.
    result = drive(
        synapse, f"sql:{statement}", 3, signame, "run", "demo-fanout", "--params",
        fan_out_params(target, items=10, delay=0), SYNAPSE_HOME=str(home),
    )  # fmt: skip
    assert "transaction" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    [run] = runs(synapse, home)
    # Never lost (a signal inside sqlite's own call once vanished and the run succeeded).
    assert result.returncode == EXIT_CODES[signame], result.stderr[-2000:]
    assert run["state"] == "rolled_back"
    assert tree(target) == before


@pytest.mark.parametrize("signame", sorted(EXIT_CODES))
def test_a_signal_before_the_first_step_leaves_a_rolled_back_run_and_nothing_written(
    synapse: Synapse, tmp_path: Path, target: Path, signame: str
) -> None:
    home = tmp_path / "home"
    before = tree(target)
    # The first COMMIT journals the run: the signal is held until it is on disk.
    result = drive(
        synapse, "sql:COMMIT", 1, signame, "run", "demo-fanout", "--params",
        fan_out_params(target), SYNAPSE_HOME=str(home),
    )  # fmt: skip
    assert result.returncode == EXIT_CODES[signame], result.stderr[-2000:]
    assert "before any step ran; nothing was written" in result.stderr
    [run] = runs(synapse, home)
    assert run["state"] == "rolled_back"
    assert tree(target) == before


def test_ctrl_c_while_a_plugin_hangs_at_start_up_exits_130_with_nothing_written(
    synapse: Synapse, tmp_path: Path, target: Path
) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, DRIVER, "hang", "0", "SIGINT", "--", "run", "demo-fanout",
         "--params", fan_out_params(target)],
        env={**synapse.env, "SYNAPSE_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Aborted" not in stderr
    assert "Traceback" not in stderr
    assert tree(target) == {"unrelated.txt": b"was here before"}
    assert not (home / "runs.db").exists() or runs(synapse, home) == []


def wait_for_step(process: subprocess.Popen[str], step: str) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        event = json.loads(line)
        if (
            event["event"] == "step"
            and event["step"].endswith(step)
            and event["status"] == "started"
        ):
            return
        assert time.monotonic() < deadline
    raise AssertionError(f"step {step} never started")


def test_a_second_ctrl_c_while_items_settle_exits_in_bounded_time_and_leaves_needs_rollback(
    synapse: Synapse, tmp_path: Path, target: Path
) -> None:
    home = tmp_path / "home"
    before = tree(target)
    # Items that take 60 s: after Ctrl-C the fan-out waits at most 10 s for them.
    process = synapse.popen(
        "run", "demo-fanout", "--json", "--params", fan_out_params(target, items=3, delay=60),
        SYNAPSE_HOME=str(home),
    )  # fmt: skip
    wait_for_step(process, "fan_out")
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    elapsed = time.monotonic() - started
    assert process.returncode == 130
    assert elapsed < 20  # settle_seconds (10 s) and the exit, never the items' 60 s
    [run] = runs(synapse, home)
    assert run["state"] == "needs_rollback"
    assert f"synapse runs rollback {run['run_id']}" in stderr
    finished = synapse("runs", "rollback", run["run_id"], SYNAPSE_HOME=str(home))
    assert finished.returncode == 0, finished.stderr
    assert runs(synapse, home)[0]["state"] == "rolled_back"
    assert tree(target) == before


def test_sighup_rolls_back_and_exits_129(synapse: Synapse, tmp_path: Path, target: Path) -> None:
    home = tmp_path / "home"
    before = tree(target)
    process = synapse.popen(
        "run", "demo-fanout", "--json", "--params", fan_out_params(target, items=200, delay=0.05),
        SYNAPSE_HOME=str(home),
    )  # fmt: skip
    wait_for_step(process, "fan_out")
    time.sleep(0.5)
    assert tree(target) != before  # items were written
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 129
    assert "SIGHUP" in stderr
    [run] = runs(synapse, home)
    assert run["state"] == "rolled_back"
    assert tree(target) == before


def kill_during_copy(synapse: Synapse, home: Path, cwd: Path, target: str) -> str:
    """Start demo-upload in ``cwd`` with a relative target, kill -9 it mid-copy."""
    source = cwd / "source"
    source.mkdir()
    for index in range(3):
        (source / f"file{index}.txt").write_text(f"content {index}")
    params = json.dumps({"source": "source", "target": target, "hang_in_copy": 1.0})
    with subprocess.Popen(
        [SYNAPSE, "run", "demo-upload", "--json", "--params", params],
        env={**synapse.env, "SYNAPSE_HOME": str(home)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] == "progress" and event["step"] == "copy":
                break
        process.kill()
    [run] = runs(synapse, home)
    assert run["state"] == "needs_rollback"
    return str(run["run_id"])


def test_runs_rollback_from_another_folder_undoes_the_run_where_it_ran(
    synapse: Synapse, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    ran_in = tmp_path / "ran-here"
    ran_in.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "out").mkdir(parents=True)
    bystander = elsewhere / "out" / "file0.txt"
    bystander.write_text("not the run's")
    run_id = kill_during_copy(synapse, home, ran_in, "out")
    assert (ran_in / "out" / "file0.txt").exists()

    recovered = subprocess.run(
        [SYNAPSE, "runs", "rollback", run_id],
        env={**synapse.env, "SYNAPSE_HOME": str(home)},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert recovered.returncode == 0, recovered.stderr
    assert bystander.read_text() == "not the run's"
    assert not (ran_in / "out").exists()  # the run created it: undone with what it held


def test_two_rollbacks_of_one_run_at_once_undo_it_exactly_once(
    synapse: Synapse, tmp_path: Path
) -> None:
    for trial in range(4):
        home = tmp_path / f"home{trial}"
        cwd = tmp_path / f"trial{trial}"
        cwd.mkdir()
        run_id = kill_during_copy(synapse, home, cwd, "out")
        rollbacks = [
            synapse.popen("runs", "rollback", run_id, SYNAPSE_HOME=str(home)) for _ in range(2)
        ]
        outcomes = []
        for process in rollbacks:
            _, stderr = process.communicate(timeout=60)
            outcomes.append((process.returncode, stderr))
        codes = sorted(code for code, _ in outcomes)
        assert codes == [0, 2], outcomes
        [loser] = [stderr for code, stderr in outcomes if code == 2]
        assert f"run {run_id} is being rolled back by pid" in loser or "is rolled_back" in loser
        assert "Traceback" not in loser
        state = {run["run_id"]: run["state"] for run in runs(synapse, home)}[run_id]
        assert state == "rolled_back"
        assert not (cwd / "out").exists()


def test_ctrl_c_during_runs_rollback_says_how_to_finish_and_a_second_rollback_does(
    synapse: Synapse, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run_id = kill_during_copy(synapse, home, tmp_path, "out")
    # The first step's rollback record is journalled, then Ctrl-C stops the rollback.
    stopped = drive(
        synapse, "sql:UPDATE steps", 1, "SIGINT", "runs", "rollback", run_id,
        SYNAPSE_HOME=str(home),
    )  # fmt: skip
    assert stopped.returncode == 130, stopped.stderr
    assert f"interrupted; run 'synapse runs rollback {run_id}' again to finish" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert runs(synapse, home)[0]["state"] == "needs_rollback"
    finished = synapse("runs", "rollback", run_id, SYNAPSE_HOME=str(home))
    assert finished.returncode == 0, finished.stderr
    assert runs(synapse, home)[0]["state"] == "rolled_back"
    assert not (tmp_path / "out").exists()
