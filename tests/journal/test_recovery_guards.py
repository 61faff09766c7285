"""Finishing a crashed run with ``rollback_run``: what recovery must never get wrong.

The crashed run is real: an installed action (a fake distribution on the path) is run by
``run_action`` in a child process whose third step kills that process (``SIGKILL``) after
recording what it made. Recovery then runs here, from the journal file alone.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.distributions import make_distribution

from synapse_sdk.errors import RecoveryError, RunInUseError, SynapseError
from synapse_sdk.journal.recovery import rollback_run
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, RuntimeContext, hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepResult, StepWrapper
from synapse_sdk.runtime.events import StepEvent
from synapse_sdk.runtime.secrets import REDACTED
from synapse_sdk.storage.undo_area import undo_area
from synapse_sdk.testing import RecordingSink

ACTION_MODULE = "guard_recovery_action"

ACTION_SOURCE = '''
"""Steps s0, s1, s2: each records then returns rollback data; s2 kills its own process."""

import os
import signal

from synapse_sdk.plugins import BaseAction
from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult

ROLLBACKS = []  # (step, success, rollback_data), in call order
FAILING_ROLLBACKS = set()  # names of the steps whose rollback raises
DURING_ROLLBACK = []  # callables(context) called at the start of every rollback
DURING_PLAN = []  # callables(action) called when the action's steps are set up
RESULTS = []  # the StepResult each rollback received, in call order


class Params(ActionParams):
    crash_at: int = 2


class Numbered(BaseStep[ActionContext]):
    def __init__(self, index):
        self.index = index

    @property
    def name(self):
        return f"s{self.index}"

    @property
    def progress_weight(self):
        return 1.0

    def execute(self, context):
        context.record_rollback("recorded", self.name)
        if self.index == context.params.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return StepResult(success=True, rollback_data={"returned": self.name})

    def rollback(self, context, result):
        for call in DURING_ROLLBACK:
            call(context)
        ROLLBACKS.append((self.name, result.success, dict(result.rollback_data)))
        RESULTS.append(result)
        if self.name in FAILING_ROLLBACKS:
            raise OSError(f"cannot undo {self.name}")


class ThreeSteps(BaseAction[Params]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        for call in DURING_PLAN:
            call(self)
        for index in range(3):
            registry.register(Numbered(index))
'''

RUN_UNTIL_KILLED = """
import sys

from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import PluginHost, run_action

run_action("guard-three-steps", {}, plugins=PluginHost(), journal=RunJournal(sys.argv[1]))
"""


@pytest.fixture
def action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The installed action's module (its rollback log and switches), fresh per test."""
    site = tmp_path / "site"
    make_distribution(
        site,
        "guard-recovery",
        "1.0.0",
        modules={ACTION_MODULE: ACTION_SOURCE},
        entry_points={"synapse_sdk.actions": {"guard-three-steps": f"{ACTION_MODULE}:ThreeSteps"}},
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    sys.modules.pop(ACTION_MODULE, None)
    yield importlib.import_module(ACTION_MODULE)
    sys.modules.pop(ACTION_MODULE, None)


@pytest.fixture
def crashed(tmp_path: Path, action: ModuleType) -> tuple[RunJournal, str]:
    """A journal holding a run killed in its third step: s0 and s1 succeeded, s2 started."""
    path = tmp_path / "runs.db"
    killed = subprocess.run(
        [sys.executable, "-c", RUN_UNTIL_KILLED, str(path)], capture_output=True, timeout=120
    )
    assert killed.returncode == -9, killed.stderr.decode()
    journal = RunJournal(path)
    [run] = journal.list_runs()
    assert run.state == "needs_rollback"
    return journal, run.run_id


def test_a_rollback_that_raises_does_not_stop_the_others(
    crashed: tuple[RunJournal, str], action: ModuleType
) -> None:
    journal, run_id = crashed
    action.FAILING_ROLLBACKS.add("s1")

    rollback_run(journal, run_id, plugins=PluginHost())

    assert [name for name, _, _ in action.ROLLBACKS] == ["s2", "s1", "s0"]


def test_a_rollback_that_raised_leaves_the_run_rollback_failed(
    crashed: tuple[RunJournal, str], action: ModuleType
) -> None:
    journal, run_id = crashed
    action.FAILING_ROLLBACKS.add("s1")

    final = rollback_run(journal, run_id, plugins=PluginHost())

    run = journal.get_run(run_id)
    assert run is not None
    assert final.state == run.state == "rollback_failed"
    states = {step.name: (step.state, step.error) for step in run.steps}
    assert states == {
        "s0": ("rolled_back", None),
        "s1": ("rollback_failed", "OSError: cannot undo s1"),
        "s2": ("rolled_back", None),
    }


def test_the_step_that_was_killed_is_rolled_back_as_failed_with_what_it_recorded(
    crashed: tuple[RunJournal, str], action: ModuleType
) -> None:
    journal, run_id = crashed

    rollback_run(journal, run_id, plugins=PluginHost())

    assert action.ROLLBACKS == [
        ("s2", False, {"recorded": "s2"}),
        ("s1", True, {"recorded": "s1", "returned": "s1"}),
        ("s0", True, {"recorded": "s0", "returned": "s0"}),
    ]


def test_the_run_is_claimed_while_its_rollback_runs(
    crashed: tuple[RunJournal, str], action: ModuleType
) -> None:
    journal, run_id = crashed
    another_process = RunJournal(journal.path)  # a second connection, as `synapse runs` has
    seen: list[tuple[str, int]] = []
    second_attempts: list[BaseException | None] = []

    def look(context: object) -> None:
        run = another_process.get_run(run_id)
        assert run is not None
        seen.append((run.state, run.pid))
        if not second_attempts:
            try:
                rollback_run(another_process, run_id, plugins=PluginHost())
            except SynapseError as refused:
                second_attempts.append(refused)
            else:
                second_attempts.append(None)

    action.DURING_ROLLBACK.append(look)

    rollback_run(journal, run_id, plugins=PluginHost())

    assert [pid for _, pid in seen] == [os.getpid()] * 3
    assert "needs_rollback" not in [state for state, _ in seen]
    assert isinstance(second_attempts[0], SynapseError), "a second rollback was let in"


def unfinished_run(
    journal: RunJournal, *steps: tuple[str, str, str | None], error: str | None = None
) -> str:
    """A run of the installed action left ``needs_rollback``, with ``(name, state, error)``
    steps, each holding ``{"made": name}``: journalled here, without a crash (faster)."""
    run_id = journal.start_run("guard-three-steps", {})
    for position, (name, state, step_error) in enumerate(steps):
        journal.step_started(run_id, position, name)
        journal.step_finished(
            run_id,
            name,
            state,  # type: ignore[arg-type]
            rollback_data={"made": name},
            error=step_error,
        )
    journal.end_run(run_id, "needs_rollback", error=error)
    return run_id


@pytest.fixture
def journal(tmp_path: Path) -> RunJournal:
    return RunJournal(tmp_path / "runs.db")


def test_each_step_rolled_back_is_logged_under_the_run(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None), ("s1", "succeeded", None))
    sink = RecordingSink()
    runtime = RuntimeContext(sinks=[sink])

    rollback_run(journal, run_id, plugins=PluginHost(), ctx=runtime)

    logged = [(log.message, log.step, log.data) for log in sink.logs]
    assert logged == [
        ("rolled_back", "s1", {"undone": True}),
        ("rolled_back", "s0", {"undone": True}),
    ]
    assert runtime.job_id == run_id  # the logger is bound to it


def test_a_rollback_that_raises_is_logged_as_an_error_naming_the_step(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None))
    action.FAILING_ROLLBACKS.add("s0")
    sink = RecordingSink()

    rollback_run(journal, run_id, plugins=PluginHost(), ctx=RuntimeContext(sinks=[sink]))

    [log] = sink.logs
    assert (log.message, log.level, log.step, log.data) == (
        "rollback_failed",
        "error",
        "s0",
        {"error": "OSError: cannot undo s0"},
    )


def test_rollbacks_run_in_the_given_runtime_with_the_run_as_its_job(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None))
    runtime = RuntimeContext()
    seen: list[tuple[bool, str | None]] = []
    action.DURING_ROLLBACK.append(
        lambda context: seen.append((context.runtime_ctx is runtime, context.runtime_ctx.job_id))
    )

    rollback_run(journal, run_id, plugins=PluginHost(), ctx=runtime)

    assert seen == [(True, run_id)]


def test_each_rollback_runs_as_the_current_step(journal: RunJournal, action: ModuleType) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None), ("s1", "succeeded", None))
    seen: list[str | None] = []
    action.DURING_ROLLBACK.append(lambda context: seen.append(context.current_step))

    rollback_run(journal, run_id, plugins=PluginHost())

    assert seen == ["s1", "s0"]


def test_a_failed_step_is_rolled_back_with_its_journalled_error(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None), ("s1", "failed", "disk full"))

    rollback_run(journal, run_id, plugins=PluginHost())

    assert [(result.success, result.error) for result in action.RESULTS] == [
        (False, "disk full"),
        (True, None),
    ]


def test_the_action_is_rebuilt_under_its_run_name_with_the_given_plugins(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None))
    plugins = PluginHost()
    seen: list[tuple[str, object]] = []
    action.DURING_PLAN.append(lambda rebuilt: seen.append((rebuilt.name, rebuilt.plugins)))

    rollback_run(journal, run_id, plugins=plugins)

    assert seen == [("guard-three-steps", plugins)]


def test_journalled_steps_the_plan_does_not_have_are_refused_naming_them(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(
        journal, ("s0", "succeeded", None), ("gone", "succeeded", None), ("lost", "failed", None)
    )

    with pytest.raises(RecoveryError) as caught:
        rollback_run(journal, run_id, plugins=PluginHost())

    assert str(caught.value) == (
        "the plan of 'guard-three-steps' has no step named lost, gone; install the same plugins "
        "(and versions) as the original run, then try again"
    )
    assert action.ROLLBACKS == []


def test_a_run_another_process_finished_meanwhile_is_not_rolled_back_again(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None))
    another_process = RunJournal(journal.path)
    action.DURING_PLAN.append(lambda _: another_process.end_run(run_id, "rolled_back"))

    with pytest.raises(RecoveryError, match=f"run '{run_id}' is rolled_back; only unfinished"):
        rollback_run(journal, run_id, plugins=PluginHost())

    assert action.ROLLBACKS == []


class Timed(StepWrapper[Any]):
    """A wrapper a plugin adds around every step; it notes each rollback it passes on."""

    prefix = "timed_"
    rolled_back: list[str] = []  # noqa: RUF012 - one list for the test that uses it

    def rollback(self, context: Any, result: StepResult) -> None:
        Timed.rolled_back.append(self.name)
        super().rollback(context, result)


class WrapsEveryStep:
    @hookimpl
    def synapse_wrap_step(self, action: object, step: BaseStep[Any]) -> BaseStep[Any]:
        return Timed(step)


def test_a_step_wrapped_by_a_plugin_installed_since_the_run_is_found_by_its_inner_name(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None), ("s1", "succeeded", None))
    plugins = PluginHost()
    plugins.register(WrapsEveryStep(), "timing")
    Timed.rolled_back.clear()

    final = rollback_run(journal, run_id, plugins=plugins)

    assert Timed.rolled_back == ["timed_s1", "timed_s0"]
    assert [name for name, _, _ in action.ROLLBACKS] == ["s1", "s0"]
    assert final.state == "rolled_back"


def test_a_step_journalled_under_a_plugin_wrappers_name_is_found_by_that_name(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("timed_s0", "succeeded", None))
    plugins = PluginHost()
    plugins.register(WrapsEveryStep(), "timing")
    Timed.rolled_back.clear()

    final = rollback_run(journal, run_id, plugins=plugins)

    assert Timed.rolled_back == ["timed_s0"]
    assert [name for name, _, _ in action.ROLLBACKS] == ["s0"]
    assert final.state == "rolled_back"


def test_a_rolled_back_run_keeps_the_error_it_was_stopped_by(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None), error="power loss")

    final = rollback_run(journal, run_id, plugins=PluginHost())

    assert (final.state, final.error) == ("rolled_back", "power loss")


def test_an_unknown_run_is_refused_naming_the_five_most_recent_runs(journal: RunJournal) -> None:
    started = [journal.start_run("demo", {}, run_id=f"run-{n}") for n in range(6)]

    with pytest.raises(RecoveryError) as caught:
        rollback_run(journal, "nope", plugins=PluginHost())

    recent = ", ".join(record.run_id for record in journal.list_runs(limit=5))
    assert str(caught.value) == f"no run with id 'nope' in {journal.path}; recent runs: {recent}"
    assert len(set(recent.split(", ")) & set(started)) == 5


def test_an_unknown_run_in_an_empty_journal_says_there_are_no_runs(journal: RunJournal) -> None:
    with pytest.raises(RecoveryError, match=r"; recent runs: none$"):
        rollback_run(journal, "nope", plugins=PluginHost())


def test_a_run_a_live_process_owns_is_refused_naming_that_process(journal: RunJournal) -> None:
    run_id = journal.start_run("demo", {})  # running, by this live process

    with pytest.raises(RunInUseError) as caught:
        rollback_run(journal, run_id, plugins=PluginHost())

    refused = caught.value
    run = journal.get_run(run_id)
    assert run is not None
    assert (refused.run_id, refused.state, refused.pid, refused.host) == (
        run_id,
        "running",
        os.getpid(),
        run.host,
    )


def test_a_run_with_secret_params_is_refused_naming_each_and_how_to_pass_them(
    journal: RunJournal,
) -> None:
    run_id = journal.start_run("demo", {"api_key": REDACTED, "auth": {"token": REDACTED}})
    journal.end_run(run_id, "needs_rollback")

    with pytest.raises(RecoveryError) as caught:
        rollback_run(journal, run_id, plugins=PluginHost())

    assert str(caught.value) == (
        f"run '{run_id}' had secret params (api_key, auth.token) that the journal does not "
        "keep; pass them again with --params-file (only those: the rest is merged in "
        "from the journal)"
    )


def test_a_rolled_back_run_leaves_no_undo_area(journal: RunJournal, action: ModuleType) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None))
    runtime = RuntimeContext(env={"SYNAPSE_HOME": str(journal.path.parent)})
    area = undo_area(runtime.settings, run_id, journalled=True)
    (area / "previous-content").write_text("kept until the run is settled")

    rollback_run(journal, run_id, plugins=PluginHost(), ctx=runtime)

    assert not area.exists()


def test_each_rollback_is_reported_to_the_sinks_as_a_step_event(
    journal: RunJournal, action: ModuleType
) -> None:
    run_id = unfinished_run(journal, ("s0", "succeeded", None), ("s1", "succeeded", None))
    action.FAILING_ROLLBACKS.add("s1")
    sink = RecordingSink()

    rollback_run(journal, run_id, plugins=PluginHost(), ctx=RuntimeContext(sinks=[sink]))

    steps = [event for event in sink.events if isinstance(event, StepEvent)]
    assert [(event.step, event.status, event.error, event.undone) for event in steps] == [
        ("s1", "rollback_failed", "OSError: cannot undo s1", None),
        ("s0", "rolled_back", None, True),
    ]
