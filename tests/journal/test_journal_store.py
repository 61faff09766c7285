"""The SQLite run journal: what it records, durability, and bad files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.errors import JournalError, StepExecutionError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import BaseAction, PluginHost, run_action
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult
from synapse_sdk.runtime.settings import Settings


class Params(ActionParams):
    fail_at: str | None = None
    bad_rollback_data: bool = False


class Recording(BaseStep[ActionContext]):
    def __init__(self, name: str, seen: list[Any] | None = None) -> None:
        self._name = name
        self.seen = seen if seen is not None else []

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: ActionContext) -> StepResult:
        context.record_rollback("made", [f"{self._name}-1"])
        context.record_rollback("made", [f"{self._name}-1", f"{self._name}-2"])
        if context.params.fail_at == self._name:
            raise OSError(f"{self._name} broke")
        data: dict[str, Any] = {"returned": True}
        if context.params.bad_rollback_data:
            data["handle"] = object()
        return StepResult(success=True, rollback_data=data)

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        self.seen.append((self._name, result.success, result.error, dict(result.rollback_data)))


SEEN: list[Any] = []


class Pipeline(BaseAction[Params]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(Recording("first", SEEN))
        registry.register(Recording("second", SEEN))


@pytest.fixture(autouse=True)
def _clear() -> None:
    SEEN.clear()


@pytest.fixture
def journal(tmp_path: Path) -> RunJournal:
    return RunJournal(tmp_path / "runs.db")


def test_default_path_follows_synapse_home(tmp_path: Path) -> None:
    home = Settings.from_env({"SYNAPSE_HOME": str(tmp_path)})
    assert home.journal_path == tmp_path / "runs.db"
    assert Settings.from_env({}).journal_path == Path.home() / ".synapse" / "runs.db"


def test_successful_run_is_journalled(journal: RunJournal) -> None:
    from synapse_sdk.plugins import RuntimeContext

    ctx = RuntimeContext()
    run_action(Pipeline, {}, ctx=ctx, plugins=PluginHost(), journal=journal)
    run = journal.get_run(ctx.job_id or "")
    assert run is not None
    assert (run.action, run.state, run.params) == (
        "pipeline",
        "succeeded",
        {"fail_at": None, "bad_rollback_data": False},
    )
    assert [(step.name, step.state) for step in run.steps] == [
        ("first", "succeeded"),
        ("second", "succeeded"),
    ]
    assert run.steps[0].rollback_data == {"made": ["first-1", "first-2"], "returned": True}
    assert journal.connection_mode() == ("wal", 2)


def test_failed_run_rolls_back_with_recorded_data(journal: RunJournal) -> None:
    from synapse_sdk.plugins import RuntimeContext

    ctx = RuntimeContext()
    with pytest.raises(StepExecutionError):
        run_action(Pipeline, {"fail_at": "second"}, ctx=ctx, plugins=PluginHost(), journal=journal)
    assert SEEN == [
        ("second", False, "second broke", {"made": ["second-1", "second-2"]}),
        ("first", True, None, {"made": ["first-1", "first-2"], "returned": True}),
    ]
    run = journal.get_run(ctx.job_id or "")
    assert run is not None
    assert run.state == "rolled_back"
    assert [(step.name, step.state) for step in run.steps] == [
        ("first", "rolled_back"),
        ("second", "rolled_back"),
    ]
    assert run.error == "StepExecutionError: step 'second' failed: second broke"


def test_unserialisable_rollback_data_fails_the_step_clearly(journal: RunJournal) -> None:
    with pytest.raises(
        StepExecutionError, match="rollback_data of step 'first' cannot be journalled"
    ) as caught:
        run_action(Pipeline, {"bad_rollback_data": True}, plugins=PluginHost(), journal=journal)
    assert "Use only JSON values" in str(caught.value)
    assert SEEN[0][0] == "first"  # the step that made it was still rolled back


def test_record_rollback_is_durable_when_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    journal = RunJournal(path)
    seen_by_another_connection: list[str] = []

    class Peek(BaseStep[ActionContext]):
        name = "peek"
        progress_weight = 1.0

        def execute(self, context: ActionContext) -> StepResult:
            context.record_rollback("key", "value")
            other = sqlite3.connect(path)
            seen_by_another_connection.append(
                other.execute("SELECT rollback_data FROM steps WHERE name = 'peek'").fetchone()[0]
            )
            state = other.execute("SELECT state FROM steps WHERE name = 'peek'").fetchone()[0]
            seen_by_another_connection.append(state)
            other.close()
            return StepResult(success=True)

    class OneStep(BaseAction[ActionParams]):
        def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
            registry.register(Peek())

    run_action(OneStep, {}, plugins=PluginHost(), journal=journal)
    assert seen_by_another_connection == ['{"key": "value"}', "started"]


def test_record_rollback_outside_a_step_is_an_error() -> None:
    from synapse_sdk.plugins import RuntimeContext

    context = ActionContext(runtime_ctx=RuntimeContext())
    with pytest.raises(RuntimeError, match="only be called while a step is running"):
        context.record_rollback("k", 1)


def test_a_run_whose_process_died_needs_rollback(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    code = (
        "from synapse_sdk.journal.store import RunJournal\n"
        f"j = RunJournal({str(path)!r})\n"
        "run = j.start_run('demo', {})\n"
        "j.step_started(run, 0, 'copy')\n"
        "print(run)\n"
    )
    run_id = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    journal = RunJournal(path)
    run = journal.get_run(run_id)
    assert run is not None
    assert run.state == "needs_rollback"
    assert [record.state for record in journal.list_runs()] == ["needs_rollback"]


def test_corrupted_journal_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    before = path.read_bytes()
    with pytest.raises(JournalError, match="is corrupted") as caught:
        RunJournal(path)
    assert "move it aside" in str(caught.value)
    assert path.read_bytes() == before


def test_locked_journal_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunJournal(path).close()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        journal = RunJournal(path, timeout=0.2)
        with pytest.raises(JournalError, match="is locked by another process"):
            journal.start_run("x", {})
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_journal_in_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="cannot use the run journal"):
        RunJournal(blocker / "sub" / "runs.db")


def test_concurrent_writers_do_not_lose_records(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunJournal(path).close()

    def write(n: int) -> None:
        journal = RunJournal(path)
        for index in range(20):
            journal.start_run(f"worker-{n}", {"i": index})
        journal.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal = RunJournal(path)
    assert len(journal.list_runs(limit=1000)) == 80
    journal.close()


def _held_open(path: Path) -> list[str]:
    """This process's file descriptors open on ``path`` (Linux: /proc/self/fd)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if target == str(path):
            held.append(fd)
    return held


def test_a_journal_that_cannot_be_opened_is_not_left_open(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)

    with pytest.raises(JournalError, match="is corrupted"):
        RunJournal(path)

    assert _held_open(path) == []
