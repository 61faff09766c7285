"""A Ctrl-C at moments where nothing seems to be there to receive it still rolls back.

Inside a weakref callback CPython drops the ``KeyboardInterrupt`` (and would print
"Exception ignored in ..." with a traceback); after the last step no orchestrator is left
to roll back. The signals are real. The run must still end as if caught mid-step: rolled
back, exit 130, the journal saying so, and no traceback printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.lost_interrupt import (
    LostInterruptAction,
    MapInRollbackAction,
    ctrl_c_in_a_weakref_callback,
    signal_this_process,
)
from support.wrapped_interrupt import (
    FailingCompensationAction,
    RaisedAgainThenCompensationFailsAction,
    WrappedInExecuteAction,
    WrappedInterruptAction,
    signal_wrapped_in_another_error,
)

from synapse_sdk.journal.store import RunJournal, RunRecord
from synapse_sdk.plugins import PluginHost, hookimpl, run_action
from synapse_sdk.testing import recording_context

SYNAPSE = str(Path(sys.executable).with_name("synapse"))
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def discarded(monkeypatch: pytest.MonkeyPatch) -> list[type[BaseException] | None]:
    """The type of each exception CPython discards ("Exception ignored") during the test."""
    seen: list[type[BaseException] | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: seen.append(raised.exc_type))
    return seen


def command(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``args`` (a command line) with the tests' support modules importable, no plugins."""
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "SYNAPSE_HOME": str(home),
        "SYNAPSE_LOAD_PLUGINS": "",
    }
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def assert_no_loop_of_causes(exc: BaseException) -> None:
    """Each cause or context behind ``exc`` is new: a loop sends traceback formatters (structlog's)
    round it forever."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None:
        assert all(link is not earlier for earlier in seen), f"{link!r} is its own cause"
        seen.append(link)
        link = link.__cause__ or link.__context__


def interrupted_in_process(
    action: Any, target: Path, journal: RunJournal, host: PluginHost | None = None
) -> RunRecord:
    """Run ``action`` on ``target`` in this process; it must end in KeyboardInterrupt.

    Returns the only run of ``journal``, as the journal has it afterwards.
    """
    ctx, _ = recording_context(job_id=None)
    with pytest.raises(KeyboardInterrupt) as raised:
        run_action(
            action,
            {"target": str(target)},
            ctx=ctx,
            plugins=host if host is not None else PluginHost(),
            journal=journal,
        )
    assert_no_loop_of_causes(raised.value)
    [record] = journal.list_runs()
    run = journal.get_run(record.run_id)
    assert run is not None
    return run


def test_in_process_the_run_is_rolled_back_and_the_interrupt_raised(
    tmp_path: Path, discarded: list[type[BaseException] | None]
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    journal = RunJournal(tmp_path / "runs.db")

    run = interrupted_in_process(LostInterruptAction, target, journal)

    assert discarded == [KeyboardInterrupt]  # CPython did discard it
    assert list(target.iterdir()) == []  # the first step's write is undone
    assert run.state == "rolled_back"
    journal.close()


def test_the_command_exits_130_with_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    home = tmp_path / "home"
    done = command(
        [
            SYNAPSE,
            "run",
            "support.lost_interrupt:LostInterruptAction",
            "--params",
            json.dumps({"target": str(target)}),
        ],
        home,
    )

    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert list(target.iterdir()) == []
    journal = RunJournal(home / "runs.db")
    [record] = journal.list_runs()
    run = journal.get_run(record.run_id)
    journal.close()
    assert run is not None
    # The second step ran: the Ctrl-C was dropped by CPython, not delivered in the first.
    assert [step.name for step in run.steps] == ["write_first", "write_second"]
    listed = command([SYNAPSE, "runs", "list", "--json"], home)
    assert [run["state"] for run in json.loads(listed.stdout)] == ["rolled_back"]


def test_a_command_that_runs_nothing_still_exits_130_after_a_dropped_ctrl_c(
    tmp_path: Path,
) -> None:
    """``synapse plan`` whose action's import dropped a Ctrl-C: interrupted, not a success."""
    done = command([SYNAPSE, "plan", "support.dropped_on_import:LostInterruptAction"], tmp_path)

    assert "write_second" in done.stdout  # the plan was made: the Ctrl-C had been dropped
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr


DROPPED_WHILE_THE_SDK_LOADS = """
import os, signal, sys, weakref
from synapse_sdk.console import main

class Anything:
    pass

class CtrlCOnImport:  # a Ctrl-C handled inside a weakref callback, as the import system has
    def find_spec(self, name, path=None, target=None):
        if name == "synapse_sdk.cli.run":
            def callback(_):
                os.kill(os.getpid(), signal.SIGINT)
                for _spin in range(10_000):
                    pass
            doomed = Anything()
            kept = weakref.ref(doomed, callback)
            del doomed
        return None

sys.meta_path.insert(0, CtrlCOnImport())
sys.argv = ["synapse", "actions", "list"]
main()
"""


def test_a_ctrl_c_while_the_sdk_loads_ends_the_command_even_where_cpython_drops_it(
    tmp_path: Path,
) -> None:
    """Before the SDK's handlers, Ctrl-C exits at once: no exception for CPython to drop."""
    done = command([sys.executable, "-c", DROPPED_WHILE_THE_SDK_LOADS], tmp_path / "home")

    assert done.returncode == 130, done.stderr
    assert done.stdout == ""  # the command never ran
    assert done.stderr == ""
    assert not (tmp_path / "home").exists()


class _CtrlCAtTheEnd:
    """A hook plugin during whose ``synapse_after_run`` the user presses Ctrl-C."""

    @hookimpl
    def synapse_after_run(self, action: Any, context: Any, result: Any) -> None:
        signal_this_process(spins=10_000)  # the handler runs here, after every step finished


class _DroppedCtrlCAtTheEnd:
    """A hook plugin during whose ``synapse_after_run`` a Ctrl-C is dropped by CPython."""

    @hookimpl
    def synapse_after_run(self, action: Any, context: Any, result: Any) -> None:
        ctrl_c_in_a_weakref_callback()


class _WrappedCtrlCAtTheEnd:
    """A hook plugin that calls a library which turns the user's Ctrl-C into its own error."""

    @hookimpl
    def synapse_after_run(self, action: Any, context: Any, result: Any) -> None:
        signal_wrapped_in_another_error(signal.SIGINT)  # was logged and skipped


@pytest.mark.parametrize(
    ("plugin", "dropped"),
    [
        (_CtrlCAtTheEnd(), []),
        (_DroppedCtrlCAtTheEnd(), [KeyboardInterrupt]),
        (_WrappedCtrlCAtTheEnd(), []),
    ],
    ids=["delivered", "dropped by CPython", "wrapped in another error"],
)
def test_a_ctrl_c_after_the_last_step_still_rolls_the_run_back(
    plugin: object,
    dropped: list[type[BaseException]],
    tmp_path: Path,
    discarded: list[type[BaseException] | None],
) -> None:
    """No orchestrator is left to roll back: the run is undone from the journal instead."""
    target = tmp_path / "target"
    target.mkdir()
    (target / "existing.txt").write_text("was here before the run")
    journal = RunJournal(tmp_path / "runs.db")
    host = PluginHost()
    host.register(plugin, "ctrl-c-at-the-end")

    run = interrupted_in_process("support.remote_undo:ReplaceThenWait", target, journal, host)

    assert discarded == dropped
    assert (target / "existing.txt").read_text() == "was here before the run"
    assert run.state == "rolled_back"
    assert [step.state for step in run.steps] == ["rolled_back", "rolled_back"]
    journal.close()


def test_a_ctrl_c_that_reaches_an_action_without_steps_as_another_error_is_an_interrupt(
    tmp_path: Path,
) -> None:
    journal = RunJournal(tmp_path / "runs.db")

    run = interrupted_in_process(WrappedInExecuteAction, tmp_path, journal)

    assert run.state == "rolled_back"  # interrupted, with nothing to undo (not "failed")
    journal.close()


def test_a_signal_that_reaches_a_command_as_another_error_sets_its_exit_code(
    tmp_path: Path,
) -> None:
    """SIGTERM while ``synapse plan`` imports the action: exit 143, not a traceback."""
    done = command([SYNAPSE, "plan", "support.terminated_on_import:LostInterruptAction"], tmp_path)

    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr
    assert "write_second" not in done.stdout


@pytest.mark.parametrize(
    "action",
    [
        WrappedInterruptAction,
        FailingCompensationAction,
        RaisedAgainThenCompensationFailsAction,
        MapInRollbackAction,
    ],
    ids=[
        # a library raised its own error from the Ctrl-C: still interrupted, not failed
        "wrapped by a library",
        # a rollback that fails inside (and copes) is not the signal again: the rest is undone
        "ordinary error while it is handled",
        # a library raised a new KeyboardInterrupt from it: still the same signal, taken in
        "raised again by a library, then an ordinary error",
        # only a dropped Ctrl-C is raised again: a rollback's own context.map runs to the end
        "fan-out in the rollback",
    ],
)
def test_the_run_a_ctrl_c_stopped_is_rolled_back_and_leaves_the_target_as_it_was(
    action: type[Any], tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    journal = RunJournal(tmp_path / "runs.db")

    run = interrupted_in_process(action, target, journal)

    assert list(target.iterdir()) == []
    assert run.state == "rolled_back"
    assert {step.state for step in run.steps} == {"rolled_back"}
    journal.close()
