"""The journal against hostile conditions: permissions, undecodable names, damaged rows,
pruning, oversized params, many writers at once, and a journal that cannot be written."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from support.cli import SYNAPSE, Synapse
from support.distributions import install_demo

from synapse_sdk.errors import ParamsTooLargeError, RunInUseError
from synapse_sdk.journal.store import MAX_PARAMS_BYTES, RunJournal


@pytest.fixture
def synapse(tmp_path: Path) -> Synapse:
    return Synapse(install_demo(tmp_path / "site"), tmp_path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_journal_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    journal = RunJournal(home / "runs.db")
    journal.start_run("demo", {"token": "a path the user would not share"})
    assert mode(home) == 0o700
    for name in ("runs.db", "runs.db-wal", "runs.db-shm"):
        assert mode(home / name) == 0o600, name


def test_an_old_world_readable_journal_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunJournal(path).close()
    path.chmod(0o644)
    RunJournal(path).close()
    assert mode(path) == 0o600


def test_undecodable_names_are_journalled_and_read_back_exactly(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xff.txt")  # a Linux file name that is not UTF-8
    journal = RunJournal(tmp_path / "runs.db")
    run_id = journal.start_run("demo", {"source": name})
    journal.step_started(run_id, 0, "upload")
    journal.record(run_id, "upload", "written", [f"/out/{name}"])
    journal.step_finished(run_id, "upload", "failed", error=f"cannot read {name}")
    journal.end_run(run_id, "failed", error=f"OSError: {name}")
    run = journal.get_run(run_id)
    assert run is not None
    assert run.params == {"source": name}
    assert run.steps[0].rollback_data == {"written": [f"/out/{name}"]}
    assert run.steps[0].error == "cannot read bad\\udcff.txt"  # text fields: escaped
    assert run.error == "OSError: bad\\udcff.txt"


def damage(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE runs SET params = '{not json'",
        "UPDATE runs SET params = '[1, 2]'",
        "UPDATE steps SET rollback_data = '{\"written\": ['",
    ],
)
def test_damaged_rows_are_named_with_exit_1(synapse: Synapse, tmp_path: Path, sql: str) -> None:
    home = tmp_path / "home"
    journal = RunJournal(home / "runs.db")
    run_id = journal.start_run("demo-upload", {"source": "s", "target": "t"})
    journal.step_started(run_id, 0, "copy")
    journal.close()
    damage(home / "runs.db", sql)
    commands = [("runs", "show", run_id), ("runs", "rollback", run_id)]
    if "runs" in sql:
        commands.append(("runs", "list"))
    for command in commands:
        result = synapse(*command, SYNAPSE_HOME=str(home))
        assert result.returncode == 1, (command, result.stderr)
        assert f"run {run_id}" in result.stderr
        assert "damaged" in result.stderr
        assert "Traceback" not in result.stderr


def age(path: Path, run_id: str, days: float) -> None:
    damage(
        path, f"UPDATE runs SET started_at = {time.time() - days * 86400} WHERE run_id = '{run_id}'"
    )


def test_prune_removes_old_finished_runs_and_never_unfinished_ones(
    synapse: Synapse, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    path = home / "runs.db"
    journal = RunJournal(path)
    ids: dict[str, str] = {}
    for state in ("succeeded", "rolled_back", "failed", "needs_rollback", "recent"):
        ids[state] = journal.start_run("demo-upload", {"n": state})
        journal.step_started(ids[state], 0, "copy")
        if state not in ("needs_rollback", "recent"):
            journal.end_run(ids[state], state)  # type: ignore[arg-type]
    journal.end_run(ids["recent"], "succeeded")
    ids["running"] = journal.start_run("demo-upload", {"n": "running"})  # this process: live
    journal.close()
    damage(
        path, f"UPDATE runs SET state = 'needs_rollback' WHERE run_id = '{ids['needs_rollback']}'"
    )
    for state, run_id in ids.items():
        if state != "recent":
            age(path, run_id, 40)

    only_failed = synapse(
        "runs",
        "prune",
        "--older-than",
        "30d",
        "--state",
        "failed",
        "--json",
        SYNAPSE_HOME=str(home),
    )
    assert only_failed.returncode == 0, only_failed.stderr
    assert [r["run_id"] for r in json.loads(only_failed.stdout)["removed"]] == [ids["failed"]]

    result = synapse("runs", "prune", "--older-than", "30d", "--json", SYNAPSE_HOME=str(home))
    assert result.returncode == 0, result.stderr
    removed = {r["run_id"] for r in json.loads(result.stdout)["removed"]}
    assert removed == {ids["succeeded"], ids["rolled_back"]}
    left = {
        r["run_id"]
        for r in json.loads(synapse("runs", "list", "--json", SYNAPSE_HOME=str(home)).stdout)
    }
    assert left == {ids["needs_rollback"], ids["recent"], ids["running"]}
    reopened = RunJournal(path)
    assert reopened.get_run(ids["succeeded"]) is None
    assert reopened.get_run(ids["needs_rollback"]) is not None


def test_prune_deletes_the_undo_areas_kept_by_the_runs_it_removes(
    synapse: Synapse, tmp_path: Path
) -> None:
    # A rollback_failed run keeps the previous content of what it replaced until it is
    # pruned, and a pipeline's action runs go with their pipeline run.
    home = tmp_path / "home"
    with closing(RunJournal(home / "runs.db")) as journal:
        pipeline = journal.start_run("nightly", {}, kind="pipeline")
        action = journal.start_run("demo-upload", {}, parent=pipeline, stage="publish")
        kept = journal.start_run("demo-upload", {"n": "recent"})
        for run_id in (action, pipeline, kept):
            journal.end_run(run_id, "rollback_failed")
    for old in (pipeline, action):
        age(home / "runs.db", old, 40)
    areas = {run_id: home / "undo" / run_id for run_id in (action, kept)}
    for area in areas.values():
        area.mkdir(parents=True)
        (area / "copy-of-model.pkl").write_bytes(b"previous content")

    result = synapse("runs", "prune", "--older-than", "30d", "--json", SYNAPSE_HOME=str(home))

    assert result.returncode == 0, result.stderr
    removed = [r["run_id"] for r in json.loads(result.stdout)["removed"]]
    assert removed == [pipeline, action]
    assert not areas[action].exists()
    assert (areas[kept] / "copy-of-model.pkl").read_bytes() == b"previous content"


def test_prune_rejects_a_duration_it_cannot_read(synapse: Synapse, tmp_path: Path) -> None:
    result = synapse("runs", "prune", "--older-than", "a month", SYNAPSE_HOME=str(tmp_path))
    assert result.returncode == 2
    assert "30d" in result.stderr
    assert "Traceback" not in result.stderr


def test_params_over_the_size_limit_are_refused_before_the_run(
    synapse: Synapse, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    source = tmp_path / "source"
    source.mkdir()
    big = tmp_path / "params.json"
    big.write_text(
        json.dumps({"source": str(source), "target": str(tmp_path / ("t" * MAX_PARAMS_BYTES))})
    )
    result = synapse("run", "demo-upload", "--params-file", str(big), SYNAPSE_HOME=str(home))
    assert result.returncode == 2, result.stderr
    assert "over the journal's limit" in result.stderr
    assert "Traceback" not in result.stderr
    assert not [path for path in tmp_path.iterdir() if path.name.startswith("tt")]
    assert RunJournal(home / "runs.db").list_runs() == []


def test_params_size_limit_is_a_params_error(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    with pytest.raises(ParamsTooLargeError, match="put large data in a file"):
        journal.start_run("demo", {"blob": "x" * (MAX_PARAMS_BYTES + 1)})
    assert journal.list_runs() == []


def test_claiming_a_run_is_atomic_between_two_connections(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    first, second = RunJournal(path), RunJournal(path)
    run_id = first.start_run("demo", {})
    damage(path, f"UPDATE runs SET state = 'needs_rollback' WHERE run_id = '{run_id}'")
    assert first.claim_run(run_id) == "needs_rollback"
    with pytest.raises(
        RunInUseError, match=f"run {run_id} is being rolled back by pid {os.getpid()}"
    ):
        second.claim_run(run_id)
    run = second.get_run(run_id)
    assert run is not None
    assert run.state == "rolling_back"


def test_a_journal_from_an_older_version_gains_the_cwd_column(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, action TEXT NOT NULL, params TEXT NOT NULL,"
        " state TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL, error TEXT,"
        " pid INTEGER NOT NULL, host TEXT NOT NULL);"
        "INSERT INTO runs VALUES ('old', 'demo', '{}', 'succeeded', 1.0, 2.0, NULL, 1, 'h');"
    )
    db.close()
    journal = RunJournal(path)
    old = journal.get_run("old")
    assert old is not None
    assert old.cwd is None
    new = journal.get_run(journal.start_run("demo", {}, cwd="/somewhere"))
    assert new is not None
    assert new.cwd == "/somewhere"


def test_sixteen_concurrent_runs_on_one_journal_all_succeed(
    synapse: Synapse, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    source = tmp_path / "source"
    source.mkdir()
    for index in range(20):
        (source / f"file{index}.txt").write_text(f"content {index}")
    processes = []
    for n in range(16):
        params = json.dumps({"source": str(source), "target": str(tmp_path / f"out{n}")})
        processes.append(
            synapse.popen(
                "run", "demo-upload", "--json", "--params", params, SYNAPSE_HOME=str(home)
            )
        )
    outcomes = []
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        outcomes.append((process.returncode, stderr[-300:]))
    assert [code for code, _ in outcomes] == [0] * 16, outcomes
    states = [run.state for run in RunJournal(home / "runs.db").list_runs(limit=100)]
    assert states == ["succeeded"] * 16


def limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (96_000, 96_000))


def test_a_journal_that_cannot_be_written_is_reported_as_a_journal_failure(
    synapse: Synapse, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    source = tmp_path / "source"
    source.mkdir()
    for index in range(60):
        (source / f"file{index}.txt").write_text(f"content {index}")
    params = json.dumps({"source": str(source), "target": str(tmp_path / "out")})
    result: subprocess.CompletedProcess[Any] = subprocess.run(
        [SYNAPSE, "run", "demo-upload", "--params", params],
        env={**synapse.env, "SYNAPSE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size,
    )
    assert result.returncode == 1, result.stderr
    assert "journal failure" in result.stderr
    assert str(home / "runs.db") in result.stderr
    assert "action failed" not in result.stderr
    assert "Traceback" not in result.stderr
