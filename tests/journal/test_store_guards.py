"""The run journal's guarantees that a crash or a refused write must not break.

A run is recorded in a real SQLite file; a crashed run is one whose process really
exited without finishing it; a write refused part-way is refused by SQLite itself (a
trigger added to the journal file, as a full disk or a constraint would refuse it).
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from synapse_sdk.errors import JournalError, ParamsTooLargeError, RunInUseError
from synapse_sdk.journal.store import MAX_PARAMS_BYTES, RunJournal
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.settings import Settings

STARTS_A_RUN_AND_EXITS = """
import socket
import sys

from synapse_sdk.journal.store import RunJournal

path, host = sys.argv[1], sys.argv[2]
if host:
    socket.gethostname = lambda: host  # this process plays a process on another machine
print(RunJournal(path).start_run("demo", {}))
"""


def run_of_a_process_that_exited(path: Path, *, host: str = "") -> str:
    """The id of a run started by a process that then exited without finishing it."""
    done = subprocess.run(
        [sys.executable, "-c", STARTS_A_RUN_AND_EXITS, str(path), host],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def refuse_writes_of_state(path: Path, state: str) -> None:
    """Make SQLite refuse any statement that sets a step's state to ``state``."""
    db = sqlite3.connect(path)
    db.execute(
        f"CREATE TRIGGER refuse_{state} BEFORE UPDATE ON steps WHEN NEW.state = '{state}' "
        "BEGIN SELECT RAISE(ABORT, 'the disk refused the write'); END"
    )
    db.commit()
    db.close()


@pytest.fixture
def journal(tmp_path: Path) -> RunJournal:
    return RunJournal(tmp_path / "runs.db")


def test_a_write_refused_part_way_leaves_nothing_of_it_in_the_journal(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.record(run_id, "upload", "written", ["a"])
    refuse_writes_of_state(journal.path, "succeeded")

    with pytest.raises(JournalError):
        journal.step_finished(run_id, "upload", "succeeded", rollback_data={"written": ["a", "b"]})

    run = journal.get_run(run_id)
    assert run is not None
    [step] = run.steps
    assert (step.state, step.rollback_data) == ("started", {"written": ["a"]})


def test_recording_a_second_key_keeps_the_first(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.record(run_id, "upload", "bucket", "s3://bucket")
    journal.record(run_id, "upload", "written", ["a.jpg"])

    run = journal.get_run(run_id)
    assert run is not None
    assert run.steps[0].rollback_data == {"bucket": "s3://bucket", "written": ["a.jpg"]}


def test_the_rollback_data_a_step_returns_wins_over_what_it_recorded(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.record(run_id, "upload", "written", ["a.jpg"])
    journal.record(run_id, "upload", "bucket", "s3://bucket")

    journal.step_finished(
        run_id, "upload", "succeeded", rollback_data={"written": ["a.jpg", "b.jpg"]}
    )

    run = journal.get_run(run_id)
    assert run is not None
    assert run.steps[0].rollback_data == {"bucket": "s3://bucket", "written": ["a.jpg", "b.jpg"]}


def test_a_run_whose_process_exited_on_this_machine_needs_rollback(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    run_id = run_of_a_process_that_exited(path)

    run = RunJournal(path).get_run(run_id)
    assert run is not None
    assert run.state == "needs_rollback"


def test_a_running_run_of_another_machine_is_not_declared_crashed(tmp_path: Path) -> None:
    # Its pid means nothing here: whether that process lives cannot be known from here.
    path = tmp_path / "runs.db"
    run_id = run_of_a_process_that_exited(path, host="another-machine.example")

    run = RunJournal(path).get_run(run_id)
    assert run is not None
    assert (run.state, run.host) == ("running", "another-machine.example")


def state_seen_by_another_user(path: Path, run_id: str) -> str:
    """The run's state as read by a process of another user (root only: it drops to nobody)."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            os.close(read_end)
            journal = RunJournal(path)  # opened with our rights, then read as nobody
            os.setgid(65534)
            os.setuid(65534)
            run = journal.get_run(run_id)
            os.write(write_end, (run.state if run else "missing").encode())
        except BaseException as exc:
            os.write(write_end, f"error: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        seen = pipe.read()
    os.waitpid(child, 0)
    return seen


def test_a_run_of_a_live_process_of_another_user_is_not_declared_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Signalling another user's process is refused (EPERM): refused means alive.
    path = tmp_path / "runs.db"
    journal = RunJournal(path)
    if os.geteuid() == 0:
        run_id = journal.start_run("demo", {})  # owned by this (root) process, alive
        assert state_seen_by_another_user(path, run_id) == "running"
        # Read here too: mutmut only runs this test against the code it saw run in this
        # process (the forked child's calls are not traced).
        own = journal.get_run(run_id)
        assert own is not None
        assert own.state == "running"
        return
    if os.stat("/proc/1").st_uid == os.getuid():
        pytest.skip("needs a live process of another user (pid 1 is ours here)")
    with monkeypatch.context() as patch:
        patch.setattr(os, "getpid", lambda: 1)  # the run belongs to pid 1, root's, alive
        run_id = journal.start_run("demo", {})
    run = journal.get_run(run_id)
    assert run is not None
    assert run.state == "running"


def test_the_default_journal_is_runs_db_in_synapse_home_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNAPSE_HOME", str(tmp_path / "home"))

    assert Settings.from_env().journal_path == tmp_path / "home" / "runs.db"
    assert RuntimeContext().settings.journal_path == tmp_path / "home" / "runs.db"


def test_rollback_data_that_is_not_json_is_refused_naming_the_step(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")

    with pytest.raises(
        JournalError, match="rollback_data of step 'upload' cannot be journalled"
    ) as caught:
        journal.record(run_id, "upload", "handle", object())

    assert str(caught.value).endswith(
        ". Use only JSON values (str, int, float, bool, None, lists and dicts of them)"
    )


def test_recording_for_a_step_the_journal_has_no_row_for_changes_nothing(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})

    journal.record(run_id, "never-started", "written", ["a"])

    run = journal.get_run(run_id)
    assert run is not None
    assert run.steps == []


def damage_rollback_data(path: Path, run_id: str) -> None:
    """Overwrite the run's stored rollback data with text that is not JSON."""
    db = sqlite3.connect(path)
    db.execute("UPDATE steps SET rollback_data = '{not json' WHERE run_id = ?", (run_id,))
    db.commit()
    db.close()


def test_recording_over_damaged_rollback_data_names_the_run_and_the_way_out(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    damage_rollback_data(journal.path, run_id)

    with pytest.raises(JournalError) as caught:
        journal.record(run_id, "upload", "written", ["a"])

    assert str(caught.value) == (
        f"run {run_id} in the run journal {journal.path} is damaged (its stored JSON cannot "
        "be read); nothing of it can be trusted: move the journal aside "
        "(or set SYNAPSE_HOME to another folder) to start a new one"
    )


def test_recorded_rollback_data_reads_back_with_its_keys_sorted(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.record(run_id, "upload", "written", ["a"])
    journal.record(run_id, "upload", "bucket", "b")

    run = journal.get_run(run_id)
    assert run is not None
    assert list(run.steps[0].rollback_data) == ["bucket", "written"]


def test_a_run_as_a_dict_holds_every_field_and_its_steps(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {"n": 1}, cwd="/data", target="pkg.mod:Demo")
    journal.step_started(run_id, 0, "upload")
    journal.step_finished(
        run_id, "upload", "failed", rollback_data={"written": ["a"]}, error="disk full"
    )
    journal.end_run(run_id, "failed", error="upload failed")
    run = journal.get_run(run_id)
    assert run is not None
    step = run.steps[0]

    assert run.to_dict() == {
        "run_id": run_id,
        "action": "demo",
        "state": "failed",
        "params": {"n": 1},
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "error": "upload failed",
        "pid": os.getpid(),
        "host": run.host,
        "cwd": "/data",
        "target": "pkg.mod:Demo",
        "kind": "action",
        "parent": None,
        "result": None,
        "stage": None,
        "steps": [
            {
                "position": 0,
                "name": "upload",
                "state": "failed",
                "rollback_data": {"written": ["a"]},
                "error": "disk full",
                "traceback": None,
                "started_at": step.started_at,
                "ended_at": step.ended_at,
            }
        ],
    }
    assert run.ended_at is not None
    assert step.ended_at is not None


def finished_run(journal: RunJournal, state: str) -> str:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.end_run(run_id, state)  # type: ignore[arg-type]
    return run_id


def test_prune_deletes_old_finished_runs_with_their_steps_and_returns_them(
    journal: RunJournal,
) -> None:
    done = finished_run(journal, "succeeded")
    failed = finished_run(journal, "failed")

    pruned = journal.prune(older_than=-60)

    assert sorted(run.run_id for run in pruned) == sorted([done, failed])
    assert journal.list_runs() == []
    db = sqlite3.connect(journal.path)
    assert db.execute("SELECT COUNT(*) FROM steps").fetchone() == (0,)
    db.close()


def test_prune_keeps_runs_started_more_recently_than_the_cutoff(journal: RunJournal) -> None:
    done = finished_run(journal, "succeeded")

    assert journal.prune(older_than=3600) == []

    assert [run.run_id for run in journal.list_runs()] == [done]


def test_prune_never_deletes_a_run_someone_still_has_to_finish(journal: RunJournal) -> None:
    kept = {
        finished_run(journal, "needs_rollback"),
        finished_run(journal, "rolling_back"),
        journal.start_run("demo", {}),  # running, by this live process
    }
    done = finished_run(journal, "rolled_back")

    pruned = journal.prune(older_than=-60)

    assert [run.run_id for run in pruned] == [done]
    assert {run.run_id for run in journal.list_runs()} == kept


def test_prune_limited_to_some_states_deletes_only_runs_in_them(journal: RunJournal) -> None:
    failed = finished_run(journal, "failed")
    done = finished_run(journal, "succeeded")

    pruned = journal.prune(older_than=-60, states={"failed"})

    assert [run.run_id for run in pruned] == [failed]
    assert [run.run_id for run in journal.list_runs()] == [done]


def test_rollback_data_holding_nan_is_refused(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")

    with pytest.raises(JournalError, match="rollback_data of step 'upload' cannot be journalled"):
        journal.record(run_id, "upload", "ratio", float("nan"))


def test_claiming_a_run_a_live_process_owns_is_refused_naming_that_process(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})  # running, by this live process
    run = journal.get_run(run_id)
    assert run is not None

    with pytest.raises(RunInUseError) as caught:
        journal.claim_run(run_id)

    refused = caught.value
    assert (refused.run_id, refused.state, refused.pid, refused.host) == (
        run_id,
        "running",
        os.getpid(),
        run.host,
    )


def test_runs_are_listed_fifty_at_most_by_default(journal: RunJournal) -> None:
    for n in range(51):
        journal.start_run("demo", {}, run_id=f"run-{n}")

    assert len(journal.list_runs()) == 50


def test_a_journal_that_cannot_be_read_is_reported_naming_its_file(journal: RunJournal) -> None:
    db = sqlite3.connect(journal.path)
    db.execute("DROP TABLE runs")  # a file that is no journal any more
    db.commit()
    db.close()

    with pytest.raises(JournalError) as caught:
        journal.list_runs()

    assert str(caught.value) == f"cannot use the run journal {journal.path}: no such table: runs"


def test_a_journal_whose_pages_are_damaged_is_reported_as_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    journal = RunJournal(path)
    for _ in range(3):
        journal.start_run("demo", {"padding": "x" * 3000})  # several pages
    journal.close()
    with path.open("r+b") as damaged:
        damaged.seek(4096)
        damaged.write(b"\xff" * 4096)  # the second page overwritten

    with pytest.raises(JournalError, match="is corrupted \\(database disk image is malformed\\)"):
        RunJournal(path).list_runs()


def free_pages(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        db.close()


def test_prune_compacts_the_journal_file(journal: RunJournal) -> None:
    for _ in range(3):
        run_id = journal.start_run("demo", {"padding": "x" * 20_000})
        journal.end_run(run_id, "succeeded")

    journal.prune(older_than=-60)

    assert free_pages(journal.path) == 0  # without VACUUM the deleted pages stay, free


def test_a_journal_where_files_cannot_be_created_says_to_check_the_permissions() -> None:
    path = Path("/sys/runs.db")  # sysfs refuses new files, even to root
    if not Path("/sys/kernel").is_dir():
        pytest.skip("needs Linux's /sys")

    with pytest.raises(JournalError) as caught:
        RunJournal(path)

    assert str(caught.value) == (
        f"the run journal {path} cannot be written ([Errno 13] Permission denied: '{path}'); "
        "check the permissions of /sys (or set SYNAPSE_HOME to another folder)"
    )


def test_a_write_the_file_size_limit_refuses_is_reported_as_a_disk_error(
    journal: RunJournal,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, not the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(JournalError) as caught:
            journal.start_run("demo", {"padding": "x" * 300_000})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)

    assert str(caught.value) == (
        f"the run journal {journal.path} cannot be written (disk I/O error); check the disk "
        "that holds it, its free space and file-size limits (or set SYNAPSE_HOME to another "
        "folder)"
    )


def test_appended_items_read_back_in_order_under_their_key(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.record(run_id, "upload", "bucket", "b")
    for name in ("c.jpg", "a.jpg", "b.jpg"):
        journal.append(run_id, "upload", "written", [name])

    run = journal.get_run(run_id)
    assert run is not None
    assert run.steps[0].rollback_data == {"bucket": "b", "written": ["c.jpg", "a.jpg", "b.jpg"]}


def test_appended_items_go_to_their_own_step_and_key(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.step_started(run_id, 1, "index")
    journal.append(run_id, "upload", "written", [{"path": "a.jpg", "size": 3}])
    journal.append(run_id, "index", "rows", [7])

    run = journal.get_run(run_id)
    assert run is not None
    assert {step.name: step.rollback_data for step in run.steps} == {
        "upload": {"written": [{"path": "a.jpg", "size": 3}]},
        "index": {"rows": [7]},
    }


def test_an_appended_item_that_is_not_json_is_refused_naming_the_step(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")

    with pytest.raises(JournalError, match="rollback_data of step 'upload' cannot be journalled"):
        journal.append(run_id, "upload", "written", [object()])


def test_items_appended_for_a_step_the_journal_has_no_row_for_are_not_read(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.append(run_id, "never-started", "written", ["a.jpg"])
    journal.append(run_id, "upload", "written", ["b.jpg"])  # after it: still read

    run = journal.get_run(run_id)
    assert run is not None
    assert [(step.name, step.rollback_data) for step in run.steps] == [
        ("upload", {"written": ["b.jpg"]})
    ]


def test_items_appended_under_an_undecodable_file_name_are_read_back(journal: RunJournal) -> None:
    name = "upload-\udcff"  # a step named after a file name that is not UTF-8
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, name)
    journal.append(run_id, name, "dir-\udcfe", ["a.jpg"])

    run = journal.get_run(run_id)
    assert run is not None
    assert run.steps[0].rollback_data == {"dir-\\udcfe": ["a.jpg"]}


def test_a_damaged_appended_item_names_the_run_and_the_way_out(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.append(run_id, "upload", "written", ["a.jpg"])
    db = sqlite3.connect(journal.path)
    db.execute("UPDATE appended SET item = '[not json'")
    db.commit()
    db.close()

    with pytest.raises(JournalError, match=f"run {run_id} in the run journal .* is damaged"):
        journal.get_run(run_id)


def test_appended_items_that_cannot_be_read_are_reported_naming_the_journal(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    db = sqlite3.connect(journal.path)
    db.execute("DROP TABLE appended")
    db.commit()
    db.close()

    with pytest.raises(JournalError) as caught:
        journal.get_run(run_id)

    assert (
        str(caught.value) == f"cannot use the run journal {journal.path}: no such table: appended"
    )


def test_prune_deletes_the_items_appended_for_the_runs_it_deletes(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.append(run_id, "upload", "written", ["a.jpg"])
    journal.end_run(run_id, "succeeded")

    journal.prune(older_than=-60)

    db = sqlite3.connect(journal.path)
    assert db.execute("SELECT COUNT(*) FROM appended").fetchone() == (0,)
    db.close()


def test_appended_objects_read_back_with_their_keys_sorted(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.append(run_id, "upload", "written", [{"size": 3, "path": "a.jpg"}])

    run = journal.get_run(run_id)
    assert run is not None
    assert list(run.steps[0].rollback_data["written"][0]) == ["path", "size"]


def test_finishing_a_step_the_journal_has_no_row_for_changes_nothing(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})

    journal.step_finished(run_id, "never-started", "succeeded", rollback_data={"made": 1})

    run = journal.get_run(run_id)
    assert run is not None
    assert run.steps == []


def test_finishing_over_damaged_rollback_data_names_the_run(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    damage_rollback_data(journal.path, run_id)

    with pytest.raises(JournalError, match=f"run {run_id} in the run journal .* is damaged"):
        journal.step_finished(run_id, "upload", "succeeded", rollback_data={"made": 1})


def test_returned_rollback_data_reads_back_with_its_keys_sorted(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.record(run_id, "upload", "written", ["a"])

    journal.step_finished(run_id, "upload", "succeeded", rollback_data={"bucket": "b"})

    run = journal.get_run(run_id)
    assert run is not None
    assert list(run.steps[0].rollback_data) == ["bucket", "written"]


def test_a_step_started_again_is_journalled_started_at_its_new_position(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.step_finished(run_id, "upload", "failed", error="disk full")

    journal.step_started(run_id, 3, "upload")

    run = journal.get_run(run_id)
    assert run is not None
    assert [(step.position, step.name, step.state) for step in run.steps] == [
        (3, "upload", "started")
    ]


def test_a_generated_run_id_is_twelve_hex_digits(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})

    assert len(run_id) == 12
    int(run_id, 16)


def test_params_of_exactly_the_size_limit_are_journalled(journal: RunJournal) -> None:
    overhead = len('{"data": ""}')
    params = {"data": "x" * (MAX_PARAMS_BYTES - overhead)}

    run_id = journal.start_run("demo", params)

    assert journal.get_run(run_id) is not None


def test_params_over_the_size_limit_are_refused_naming_the_action(journal: RunJournal) -> None:
    params = {"data": "x" * MAX_PARAMS_BYTES}

    with pytest.raises(ParamsTooLargeError, match="'demo'"):
        journal.start_run("demo", params)


def test_reading_a_run_whose_steps_cannot_be_read_names_the_journal(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    db = sqlite3.connect(journal.path)
    db.execute("DROP TABLE steps")
    db.commit()
    db.close()

    with pytest.raises(JournalError) as caught:
        journal.get_run(run_id)

    assert str(caught.value) == f"cannot use the run journal {journal.path}: no such table: steps"


def test_reading_damaged_step_data_names_the_run(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    damage_rollback_data(journal.path, run_id)

    with pytest.raises(JournalError, match=f"run {run_id} in the run journal .* is damaged"):
        journal.get_run(run_id)


def test_a_step_reads_back_with_its_start_and_end_times(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.step_finished(run_id, "upload", "succeeded")

    run = journal.get_run(run_id)
    assert run is not None
    step = run.steps[0]
    assert step.ended_at is not None
    assert run.started_at <= step.started_at <= step.ended_at
