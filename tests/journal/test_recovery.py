"""Recovering crashed runs from the journal: exactly-once rollback under any crash pattern."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import recovery_actions
from support.recovery_actions import COMPLETED, CRASH_AT

from synapse_sdk.errors import RecoveryError
from synapse_sdk.journal.recorder import JournalRecorder
from synapse_sdk.journal.recovery import rollback_run
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost

ACTION = "support.recovery_actions:CountingAction"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


DEAD_PID = dead_pid()


def crash(path: Path, run_id: str) -> None:
    """What the journal looks like after the process owning ``run_id`` died."""
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET pid = ?, state = 'running' WHERE run_id = ?", (DEAD_PID, run_id))
    db.commit()
    db.close()


def crashed_run(journal: RunJournal, steps: int, succeeded: int, interrupted: bool) -> str:
    """A run of ``steps`` steps that died after ``succeeded`` of them (and one more started)."""
    run_id = journal.start_run(ACTION, {"steps": steps})
    recorder = JournalRecorder(journal, run_id)
    for index in range(succeeded):
        recorder.step_started(index, f"s{index}")
        recorder.step_succeeded(f"s{index}", {"index": index})
    if interrupted and succeeded < steps:
        recorder.step_started(succeeded, f"s{succeeded}")
        recorder.record(f"s{succeeded}", "index", succeeded)
    crash(journal.path, run_id)
    return run_id


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(min_value=1, max_value=6),
    data=st.data(),
)
def test_any_crash_pattern_rolls_back_each_step_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, steps: int, data: st.DataObject
) -> None:
    recovery_actions.reset()
    journal = RunJournal(tmp_path_factory.mktemp("journal") / "runs.db")
    succeeded = data.draw(st.integers(min_value=0, max_value=steps), label="succeeded")
    interrupted = data.draw(st.booleans(), label="interrupted")
    run_id = crashed_run(journal, steps, succeeded, interrupted)
    ran = [
        f"s{index}" for index in range(succeeded + (1 if interrupted and succeeded < steps else 0))
    ]

    crashes = data.draw(
        st.lists(st.integers(min_value=1, max_value=6), max_size=4), label="crashes"
    )
    for crash_at in crashes:  # recoveries that die part-way
        CRASH_AT[:] = [crash_at]
        try:
            rollback_run(journal, run_id, plugins=PluginHost())
        except KeyboardInterrupt:
            crash(journal.path, run_id)
        CRASH_AT.clear()
        run = journal.get_run(run_id)
        assert run is not None
        if run.state == "rolled_back":
            break
    else:
        final = rollback_run(journal, run_id, plugins=PluginHost())
        assert final.state == "rolled_back"

    assert dict(COMPLETED) == dict.fromkeys(ran, 1)
    run = journal.get_run(run_id)
    assert run is not None
    assert run.state == "rolled_back"
    # Each attempt resumes where the last one stopped, so all calls together go in
    # reverse step order (a step whose rollback crashed is called again first).
    order = [int(name[1:]) for name in recovery_actions.CALLS]
    assert all(later <= earlier for earlier, later in itertools.pairwise(order))
    journal.close()


def test_reverse_order_and_recorded_data_of_the_interrupted_step(tmp_path: Path) -> None:
    recovery_actions.reset()
    journal = RunJournal(tmp_path / "runs.db")
    run_id = crashed_run(journal, steps=4, succeeded=2, interrupted=True)
    final = rollback_run(journal, run_id, plugins=PluginHost())
    assert recovery_actions.CALLS == ["s2", "s1", "s0"]
    assert [(step.name, step.state) for step in final.steps] == [
        ("s0", "rolled_back"),
        ("s1", "rolled_back"),
        ("s2", "rolled_back"),
    ]


def test_refuses_runs_that_do_not_need_it(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    with pytest.raises(RecoveryError, match="no run with id 'nope'"):
        rollback_run(journal, "nope", plugins=PluginHost())
    run_id = journal.start_run(ACTION, {"steps": 1})
    journal.end_run(run_id, "succeeded")
    with pytest.raises(RecoveryError, match="is succeeded; only unfinished runs need a rollback"):
        rollback_run(journal, run_id, plugins=PluginHost())


def test_redacted_secrets_must_be_given_again(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    run_id = journal.start_run(ACTION, {"steps": 1, "token": "**********"})
    crash(journal.path, run_id)
    with pytest.raises(RecoveryError, match=r"secret params \(token\).*--params-file"):
        rollback_run(journal, run_id, plugins=PluginHost())


SECRET_ACTION = "support.recovery_actions:SecretAction"
SECRET_PARAMS = {
    "tokens": ["t-one", "t-two"],
    "auth": {"user": "ada", "password": "pw"},
    "endpoints": [{"url": "https://a", "key": "k-a"}],
}


def crashed_secret_run(journal: RunJournal) -> str:
    from synapse_sdk.plugins import run_action

    recovery_actions.SEEN_PARAMS.clear()
    run_action(SECRET_ACTION, SECRET_PARAMS, journal=journal, plugins=PluginHost())
    run = journal.get_run(journal.list_runs(limit=1)[0].run_id)
    assert run is not None
    db = sqlite3.connect(journal.path)  # as if it had died before finishing
    db.execute(
        "UPDATE runs SET state = 'running', pid = ? WHERE run_id = ?", (DEAD_PID, run.run_id)
    )
    db.commit()
    db.close()
    return run.run_id


def test_recovery_names_every_secret_path_it_needs(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    run_id = crashed_secret_run(journal)
    with pytest.raises(RecoveryError) as caught:
        rollback_run(journal, run_id, plugins=PluginHost())
    message = str(caught.value)
    for path in ("tokens[0]", "tokens[1]", "auth.password", "endpoints[0].key"):
        assert path in message
    assert "auth.user" not in message
    assert recovery_actions.SEEN_PARAMS == []  # nothing rolled back with a placeholder


def test_recovery_deep_merges_supplied_secrets_into_the_journalled_params(
    tmp_path: Path,
) -> None:
    journal = RunJournal(tmp_path / "runs.db")
    run_id = crashed_secret_run(journal)
    supplied = {
        "tokens": ["t-one", "t-two"],
        "auth": {"password": "pw"},  # auth.user comes from the journal
        "endpoints": [{"url": "https://a", "key": "k-a"}],
    }
    assert rollback_run(journal, run_id, plugins=PluginHost(), params=supplied).state == (
        "rolled_back"
    )
    [params] = recovery_actions.SEEN_PARAMS
    assert params.auth.user == "ada"
    assert params.auth.password.get_secret_value() == "pw"
    assert [token.get_secret_value() for token in params.tokens] == ["t-one", "t-two"]
    assert params.endpoints[0].key.get_secret_value() == "k-a"
