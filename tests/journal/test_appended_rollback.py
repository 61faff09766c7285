"""Appended rollback data: many items per commit, placed by position, read back truthfully.

Real SQLite files in ``tmp_path``, a real :class:`JournalRecorder`, real threads for
``context.map``.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from synapse_sdk.errors import JournalError
from synapse_sdk.fanout.threads import ThreadExecutor
from synapse_sdk.journal.recorder import JournalRecorder
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import BaseStepContext


@pytest.fixture
def journal(tmp_path: Path) -> RunJournal:
    return RunJournal(tmp_path / "runs.db")


def journalled_step(journal: RunJournal, workers: int = 4) -> tuple[BaseStepContext, str]:
    """A context as the running step ``upload`` of a journalled run sees it."""
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    runtime = RuntimeContext()
    runtime.recorder = JournalRecorder(journal, run_id)
    runtime.executor = ThreadExecutor(max_workers=workers)
    context = BaseStepContext(runtime_ctx=runtime)
    context.current_step = "upload"
    return context, run_id


def read_back(journal: RunJournal, run_id: str) -> dict[str, object]:
    run = journal.get_run(run_id)
    assert run is not None
    return run.steps[0].rollback_data


def test_items_read_back_by_position_whatever_order_they_were_appended(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.append(run_id, "upload", "made", ["c", "a"], [12, 10])
    journal.append(run_id, "upload", "made", ["b"], [11])

    assert read_back(journal, run_id) == {"made": ["a", "b", "c"]}


def test_positions_must_match_the_items(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")

    with pytest.raises(ValueError, match="2 items but 1 positions"):
        journal.append(run_id, "upload", "made", ["a", "b"], [0])


def test_the_items_of_one_append_are_committed_together_or_not_at_all(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    db = sqlite3.connect(journal.path)
    db.execute(
        "CREATE TRIGGER refuse_b BEFORE INSERT ON appended WHEN NEW.item = '\"b\"' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    db.commit()
    db.close()

    with pytest.raises(JournalError):
        journal.append(run_id, "upload", "made", ["a", "b", "c"])

    assert read_back(journal, run_id) == {}


def test_a_key_the_step_returned_wins_over_items_appended_under_it(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})
    journal.step_started(run_id, 0, "upload")
    journal.append(run_id, "upload", "made", ["a", "b"])
    journal.append(run_id, "upload", "other", ["x"])
    journal.step_finished(run_id, "upload", "succeeded", rollback_data={"made": ["final"]})

    assert read_back(journal, run_id) == {"made": ["final"], "other": ["x"]}


def test_a_journal_from_before_positions_gains_them_and_keeps_its_items(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunJournal(path).close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE appended;"
        "CREATE TABLE appended (run_id TEXT NOT NULL, step TEXT NOT NULL, "
        "key TEXT NOT NULL, item TEXT NOT NULL);"
    )
    db.execute(
        "INSERT INTO runs (run_id, action, params, state, started_at, pid, host) "
        "VALUES ('old', 'demo', '{}', 'succeeded', 1.0, 1, 'h')"
    )
    db.execute(
        "INSERT INTO steps (run_id, position, name, state, started_at) "
        "VALUES ('old', 0, 'upload', 'succeeded', 1.0)"
    )
    db.execute("INSERT INTO appended VALUES ('old', 'upload', 'made', '\"old\"')")
    db.commit()

    journal = RunJournal(path)
    journal.append("old", "upload", "made", ["new"], [0])

    columns = {row[1]: row[2] for row in db.execute("PRAGMA table_info(appended)")}
    db.close()
    assert columns["position"] == "INTEGER"
    assert read_back(journal, "old") == {"made": ["old", "new"]}


def test_append_rollback_journals_every_item_and_keeps_them_in_memory(
    journal: RunJournal,
) -> None:
    context, run_id = journalled_step(journal)

    context.append_rollback("made", "a", "b")
    context.append_rollback("made", "c")

    assert context.recorded_rollback["upload"]["made"] == ["a", "b", "c"]
    assert read_back(journal, run_id) == {"made": ["a", "b", "c"]}


def test_map_results_reach_the_journal_in_item_order_when_they_finish_in_reverse(
    journal: RunJournal,
) -> None:
    context, run_id = journalled_step(journal, workers=6)
    finished = [threading.Event() for _ in range(6)]

    def last_first(n: int) -> str:
        if n + 1 < 6:
            assert finished[n + 1].wait(timeout=10)
        finished[n].set()
        return f"obj-{n}"

    context.map(last_first, range(6), rollback_key="made")

    in_order = [f"obj-{n}" for n in range(6)]
    assert read_back(journal, run_id) == {"made": in_order}
    assert context.recorded_rollback["upload"]["made"] == in_order


def test_two_maps_under_one_key_keep_both_and_appends_between_them(journal: RunJournal) -> None:
    context, run_id = journalled_step(journal)

    context.map(str.upper, ["a", "b"], rollback_key="made")
    context.append_rollback("made", "between")
    context.map(str.upper, ["c", "d"], rollback_key="made")

    expected = ["A", "B", "between", "C", "D"]
    assert context.recorded_rollback["upload"]["made"] == expected
    assert read_back(journal, run_id) == {"made": expected}


def test_a_map_of_many_items_commits_far_fewer_times_than_it_has_items(
    journal: RunJournal,
) -> None:
    context, run_id = journalled_step(journal, workers=4)
    commits = 0
    original = journal.append

    def counting_append(*args: object, **kwargs: object) -> None:
        nonlocal commits
        commits += 1
        original(*args, **kwargs)  # type: ignore[arg-type]

    journal.append = counting_append  # type: ignore[method-assign]
    context.map(str, range(400), rollback_key="made", chunk_size=50)

    assert read_back(journal, run_id) == {"made": [str(n) for n in range(400)]}
    assert commits <= 8  # one per collected batch: 8 chunks of 50, never one per item
