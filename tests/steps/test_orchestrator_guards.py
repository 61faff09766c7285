"""The step engine's promises that no other test pinned down: journalling, rollback under
journal failures and interrupts, and the registry's refusals.

Journalled runs go through ``run_action`` into a real SQLite journal in ``tmp_path``; a
journal that fails is one where SQLite itself refuses the write (a trigger). An interrupt
"just after a step finished" is a real ``KeyboardInterrupt`` raised, through
``sys.settrace``, before each line of the SDK that runs after the step's ``execute``
returned, one run per line, so no such line is missed and none is named.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from structlog.testing import capture_logs

import synapse_sdk
from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.errors import StepExecutionError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import BaseAction, PluginHost, RuntimeContext, run_action
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime.events import ProgressEvent, StepEvent
from synapse_sdk.testing import RecordingSink


@dataclass
class UndoLog(BaseStepContext):
    """A step context remembering each rollback call: (step, success, rollback_data)."""

    undone: list[tuple[str, bool, dict[str, Any]]] = field(default_factory=list)


class Step(BaseStep[Any]):
    """Succeeds returning ``rollback_data={'made': name}`` unless told to skip or fail."""

    def __init__(
        self,
        name: str,
        *,
        skip: bool = False,
        fail: bool = False,
        rollback_data: dict[str, Any] | None = None,
        undone: list[tuple[str, bool, dict[str, Any]]] | None = None,
        on_return: Callable[[], object] | None = None,
    ) -> None:
        self._name = name
        self.skip = skip
        self.fail = fail
        self.rollback_data = {"made": name} if rollback_data is None else rollback_data
        self.undone = undone
        self.on_return = on_return

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def can_skip(self, context: Any) -> bool:
        return self.skip

    def execute(self, context: Any) -> StepResult:
        if self.fail:
            raise OSError(f"{self._name} broke")
        result = StepResult(success=True, rollback_data=self.rollback_data)
        if self.on_return is not None:  # armed once the result exists: it is being returned
            self.on_return()
        return result

    def rollback(self, context: Any, result: StepResult) -> None:
        log = self.undone if self.undone is not None else context.undone
        log.append((self._name, result.success, dict(result.rollback_data)))


class NoParams(ActionParams):
    pass


def action_of(*steps: Step) -> type[BaseAction[NoParams]]:
    """An action whose plan is exactly ``steps``."""

    class Workflow(BaseAction[NoParams]):
        def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
            for step in steps:
                registry.register(step)

    return Workflow


def run_journalled(journal: RunJournal, *steps: Step) -> str:
    """Run ``steps`` as an action journalled in ``journal``; return the run id."""
    ctx = RuntimeContext()
    run_action(action_of(*steps), {}, ctx=ctx, plugins=PluginHost(), journal=journal)
    assert ctx.job_id is not None
    return ctx.job_id


@pytest.fixture
def journal(tmp_path: Path) -> RunJournal:
    return RunJournal(tmp_path / "runs.db")


# -- journalling --------------------------------------------------------------------------


def test_a_skipped_step_is_journalled_as_skipped(journal: RunJournal) -> None:
    run_id = run_journalled(journal, Step("a", undone=[]), Step("b", skip=True, undone=[]))

    run = journal.get_run(run_id)
    assert run is not None
    assert [(step.name, step.state) for step in run.steps] == [
        ("a", "succeeded"),
        ("b", "skipped"),
    ]


def test_a_journal_that_refuses_a_rollback_record_does_not_stop_the_other_rollbacks(
    journal: RunJournal,
) -> None:
    db = sqlite3.connect(journal.path)
    db.execute(
        "CREATE TRIGGER refuse_rolled_back BEFORE UPDATE ON steps "
        "WHEN NEW.state = 'rolled_back' BEGIN SELECT RAISE(ABORT, 'disk refused'); END"
    )
    db.commit()
    db.close()
    undone: list[tuple[str, bool, dict[str, Any]]] = []

    with pytest.raises(StepExecutionError, match="c broke"):
        run_journalled(
            journal,
            Step("a", undone=undone),
            Step("b", undone=undone),
            Step("c", fail=True, undone=undone),
        )

    assert [name for name, _, _ in undone] == ["c", "b", "a"]


def test_a_step_whose_result_cannot_be_journalled_is_rolled_back_with_what_it_returned(
    journal: RunJournal,
) -> None:
    handle = object()  # not JSON: the journal refuses it, so the step fails
    undone: list[tuple[str, bool, dict[str, Any]]] = []

    with pytest.raises(StepExecutionError, match="cannot be journalled"):
        run_journalled(journal, Step("open", rollback_data={"handle": handle}, undone=undone))

    assert undone == [("open", False, {"handle": handle})]


# -- an interrupt just after a step finished ----------------------------------------------

SDK = str(Path(synapse_sdk.__file__).parent)


class InterruptAtLine:
    """Raises KeyboardInterrupt before the ``at``-th SDK line run after it is armed."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.armed = False
        self.lines = 0

    def trace(self, frame: FrameType, event: str, arg: object) -> Any:
        if not frame.f_code.co_filename.startswith(SDK):
            return None
        return self.line

    def line(self, frame: FrameType, event: str, arg: object) -> Any:
        if self.armed and event == "line":
            self.lines += 1
            if self.lines == self.at:
                raise KeyboardInterrupt
        return self.line


@contextmanager
def tracing(tracer: InterruptAtLine) -> Iterator[None]:
    previous = sys.gettrace()
    sys.settrace(tracer.trace)
    try:
        yield
    finally:
        sys.settrace(previous)


def interrupted_contexts() -> Iterator[tuple[int, UndoLog, list[dict[str, Any]]]]:
    """For each SDK line after step ``b`` returned, a run of a, b interrupted there.

    Yields ``(line number, the run's context, its structlog entries)`` until a run gets
    past every line.
    """
    for at in range(1, 1000):
        tracer = InterruptAtLine(at)
        registry: StepRegistry[UndoLog] = StepRegistry()
        registry.register(Step("a"))
        registry.register(Step("b", on_return=lambda tracer=tracer: setattr(tracer, "armed", True)))
        context = UndoLog(runtime_ctx=RuntimeContext())
        with capture_logs() as logs, tracing(tracer):
            try:
                Orchestrator(registry, context).execute()
            except KeyboardInterrupt:
                pass
            else:
                return
        yield at, context, logs
    raise AssertionError("the run never got past the interrupt")


def interrupted_runs() -> Iterator[tuple[int, list[tuple[str, bool, dict[str, Any]]]]]:
    """``(line number, the rollback calls)`` of each run of :func:`interrupted_contexts`."""
    for at, context, _ in interrupted_contexts():
        yield at, context.undone


def test_ctrl_c_just_after_a_step_finished_rolls_each_step_back_at_most_once() -> None:
    for at, undone in interrupted_runs():
        names = [name for name, _, _ in undone]
        assert sorted(names) == sorted(set(names)), f"interrupt at SDK line {at}: {undone}"
        for name, succeeded, rollback_data in undone:
            if succeeded:  # rolled back as finished: with its own result
                assert rollback_data == {"made": name}, f"interrupt at SDK line {at}: {undone}"


def test_ctrl_c_after_the_last_step_but_before_success_is_reported_undoes_every_step() -> None:
    # Until execute() returns, the run has not succeeded: an interrupt there (even in its
    # cleanup) rolls back everything that ran, last first, each with its own data.
    for at, context, _ in interrupted_contexts():
        where = f"interrupt at SDK line {at}: {context.undone}"
        assert [(name, data) for name, _, data in context.undone] == [
            ("b", {"made": "b"}),
            ("a", {"made": "a"}),
        ], where
        assert len(context.step_results) == 2, where  # one entry per step, never duplicated
        b_ok = context.undone[0][1]
        # b in flight: failed by the interrupt; b finished: rolled back as it finished.
        assert b_ok == context.step_results[-1].success, where
        assert b_ok or context.step_results[-1].error == "KeyboardInterrupt", where


def test_ctrl_c_just_after_a_step_finished_undoes_what_the_step_returned() -> None:
    # The step's execute returned rollback data: wherever the interrupt lands afterwards,
    # its rollback must get that data, or what the step made is never undone.
    for at, undone in interrupted_runs():
        if undone:
            assert ("b", {"made": "b"}) in [(name, data) for name, _, data in undone], (
                f"interrupt at SDK line {at}: {undone}"
            )


def test_ctrl_c_just_after_a_step_finished_fails_it_with_the_interrupt_attached() -> None:
    for at, context, logs in interrupted_contexts():
        failed = [entry for entry in logs if entry["event"] == "step_failed"]
        for entry in failed:
            assert isinstance(entry.get("exc_info"), KeyboardInterrupt), f"at SDK line {at}"
        for result in context.step_results:
            if not result.success:
                assert result.error == "KeyboardInterrupt", f"at SDK line {at}: {result}"


def test_ctrl_c_inside_a_step_fails_it_naming_the_interrupt() -> None:
    class Interrupted(Step):
        def execute(self, context: Any) -> StepResult:
            raise KeyboardInterrupt

    registry: StepRegistry[UndoLog] = StepRegistry()
    registry.register(Step("a"))
    registry.register(Interrupted("b"))
    context = UndoLog(runtime_ctx=RuntimeContext())

    with capture_logs() as logs, pytest.raises(KeyboardInterrupt):
        Orchestrator(registry, context).execute()

    assert context.errors == ["step 'b' failed: KeyboardInterrupt"]
    [failed] = [entry for entry in logs if entry["event"] == "step_failed"]
    assert isinstance(failed["exc_info"], KeyboardInterrupt)


def test_a_step_returning_something_else_than_a_step_result_fails_saying_what_to_return() -> None:
    class ReturnsADict(Step):
        def execute(self, context: Any) -> Any:
            return {"success": True}

    registry: StepRegistry[UndoLog] = StepRegistry()
    registry.register(ReturnsADict("a"))

    with pytest.raises(StepExecutionError) as caught:
        Orchestrator(registry, UndoLog(runtime_ctx=RuntimeContext())).execute()

    assert caught.value.result is not None
    assert caught.value.result.error == (
        "step 'a' returned dict instead of a StepResult; "
        "return StepResult(success=...) from execute()"
    )


def test_a_journalled_step_returning_something_else_than_a_step_result_fails_saying_so(
    journal: RunJournal,
) -> None:
    class ReturnsADict(Step):
        def execute(self, context: Any) -> Any:
            return {"success": True}

    with pytest.raises(StepExecutionError, match="returned dict instead of a StepResult"):
        run_journalled(journal, ReturnsADict("a", undone=[]))


def test_a_failing_step_is_reported_to_the_sinks_and_logged_with_its_error() -> None:
    sink = RecordingSink()
    registry: StepRegistry[UndoLog] = StepRegistry()
    registry.register(Step("a"))
    registry.register(Step("c", fail=True))

    with capture_logs() as logs, pytest.raises(StepExecutionError):
        Orchestrator(registry, UndoLog(runtime_ctx=RuntimeContext(sinks=[sink]))).execute()

    failed = [
        (event.step, event.error)
        for event in sink.events
        if isinstance(event, StepEvent) and event.status == "failed"
    ]
    assert failed == [("c", "c broke")]
    [entry] = [entry for entry in logs if entry["event"] == "step_failed"]
    assert (entry["step"], entry["error"], entry["log_level"]) == ("c", "c broke", "error")


class NothingToUndo(BaseStep[Any]):
    """A step without a rollback of its own."""

    name = "nothing-to-undo"
    progress_weight = 1.0

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=True)


def test_a_rolled_back_event_says_whether_the_step_had_anything_to_undo() -> None:
    sink = RecordingSink()
    registry: StepRegistry[UndoLog] = StepRegistry()
    registry.register(NothingToUndo())
    registry.register(Step("b"))
    registry.register(Step("c", fail=True))

    with pytest.raises(StepExecutionError):
        Orchestrator(registry, UndoLog(runtime_ctx=RuntimeContext(sinks=[sink]))).execute()

    rolled_back = [
        (event.step, event.undone)
        for event in sink.events
        if isinstance(event, StepEvent) and event.status == "rolled_back"
    ]
    assert rolled_back == [("c", True), ("b", True), ("nothing-to-undo", False)]


class RollbackRaises(BaseStep[Any]):
    """Succeeds; its rollback raises, after noting which step the context says is running."""

    name = "fragile"
    progress_weight = 1.0

    def __init__(self) -> None:
        self.current_during_rollback: list[str | None] = []

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=True)

    def rollback(self, context: Any, result: StepResult) -> None:
        self.current_during_rollback.append(context.current_step)
        raise ValueError("cannot undo")


def test_a_rollback_that_raises_is_reported_logged_journalled_and_named(
    journal: RunJournal,
) -> None:
    sink = RecordingSink()
    fragile = RollbackRaises()
    ctx = RuntimeContext(sinks=[sink])

    with capture_logs() as logs, pytest.raises(StepExecutionError) as caught:
        run_action(
            action_of(fragile, Step("c", fail=True, undone=[])),  # type: ignore[arg-type]
            {},
            ctx=ctx,
            plugins=PluginHost(),
            journal=journal,
        )

    assert fragile.current_during_rollback == ["fragile"]
    failed = [
        (event.step, event.error)
        for event in sink.events
        if isinstance(event, StepEvent) and event.status == "rollback_failed"
    ]
    assert failed == [("fragile", "ValueError: cannot undo")]
    [entry] = [entry for entry in logs if entry["event"] == "rollback_failed"]
    assert (entry["step"], entry["error"], entry["log_level"]) == (
        "fragile",
        "cannot undo",
        "error",
    )
    assert caught.value.rollback_errors == [
        "rollback of step 'fragile' failed: ValueError: cannot undo"
    ]
    assert ctx.job_id is not None
    run = journal.get_run(ctx.job_id)
    assert run is not None
    steps = {step.name: step for step in run.steps}
    assert (steps["fragile"].state, steps["fragile"].error) == (
        "rollback_failed",
        "ValueError: cannot undo",
    )
    assert steps["c"].state == "rolled_back"
    assert steps["c"].traceback is not None
    assert steps["c"].traceback.rstrip().endswith("OSError: c broke")


# -- the registry -------------------------------------------------------------------------


class Weighted(BaseStep[Any]):
    def __init__(self, name: str, weight: object) -> None:
        self._name = name
        self._weight = weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> Any:
        return self._weight

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=True)


@pytest.mark.parametrize("weight", [True, False])
def test_a_bool_is_refused_as_a_weight(weight: bool) -> None:
    registry: StepRegistry[Any] = StepRegistry()
    with pytest.raises(TypeError, match="progress_weight of step 'flag' must be a number"):
        registry.register(Weighted("flag", weight))
    assert registry.names == []


def test_replace_refuses_a_step_named_like_another_registered_step() -> None:
    registry: StepRegistry[Any] = StepRegistry()
    registry.register(Weighted("load", 1.0))
    registry.register(Weighted("save", 1.0))

    with pytest.raises(ValueError, match="a step named 'save' is already registered"):
        registry.replace("load", Weighted("save", 1.0))
    assert registry.names == ["load", "save"]


def test_replace_accepts_a_step_with_the_name_it_replaces() -> None:
    registry: StepRegistry[Any] = StepRegistry()
    registry.register(Weighted("load", 1.0))
    replacement = Weighted("load", 2.0)

    registry.replace("load", replacement)

    assert registry.get_steps() == [replacement]


# -- observers ------------------------------------------------------------------------------


def test_a_progress_callback_that_raises_is_logged_to_the_sinks_as_an_error() -> None:
    def broken(current: int, total: int) -> None:
        raise ValueError("observer is broken")

    sink = RecordingSink()
    context = UndoLog(runtime_ctx=RuntimeContext(sinks=[sink]))

    Orchestrator(StepRegistry[Any](), context, broken).execute()

    [log] = [log for log in sink.logs if log.message == "progress_callback_failed"]
    assert (log.level, log.data["error"]) == ("error", "ValueError: observer is broken")


def test_an_unknown_step_name_is_refused_listing_the_registered_steps() -> None:
    registry: StepRegistry[Any] = StepRegistry()
    registry.register(Step("a"))
    registry.register(Step("b"))

    with pytest.raises(ValueError, match="no step named 'c'") as caught:
        registry.get("c")

    assert str(caught.value) == "no step named 'c' in the registry; registered steps: a, b"


def test_an_unknown_step_name_in_an_empty_registry_says_there_are_none() -> None:
    with pytest.raises(ValueError, match=r"; registered steps: none$"):
        StepRegistry[Any]().get("c")


def test_registering_something_that_is_not_a_step_names_its_type() -> None:
    with pytest.raises(TypeError) as caught:
        StepRegistry[Any]().register("upload")  # type: ignore[arg-type]

    assert str(caught.value) == "expected a BaseStep instance, got 'str'"


def test_a_step_with_an_empty_name_is_refused_naming_its_class() -> None:
    with pytest.raises(ValueError, match="non-empty") as caught:
        StepRegistry[Any]().register(Weighted("", 1.0))

    assert str(caught.value) == "step Weighted must have a non-empty string name"


# -- what the sinks and the log see -------------------------------------------------------


class Seen(BaseStep[Any]):
    """Skips when told to; records what ``can_skip`` received; may return a bare failure."""

    def __init__(self, name: str, *, skip: bool = False, bare_failure: bool = False) -> None:
        self._name = name
        self.skip = skip
        self.bare_failure = bare_failure
        self.asked_with: list[object] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def can_skip(self, context: Any) -> bool:
        self.asked_with.append(context)
        return self.skip

    def execute(self, context: Any) -> StepResult:
        return StepResult(success=not self.bare_failure)


def test_every_step_transition_reaches_the_sinks_in_order() -> None:
    sink = RecordingSink()
    context = BaseStepContext(runtime_ctx=RuntimeContext(sinks=[sink]))
    first, skipped = Seen("first"), Seen("skipped", skip=True)
    registry = StepRegistry[BaseStepContext]()
    registry.register(first)
    registry.register(skipped)

    Orchestrator(registry, context).execute()

    steps = [(e.step, e.status) for e in sink.events if isinstance(e, StepEvent)]
    assert steps == [
        ("first", "started"),
        ("first", "succeeded"),
        ("skipped", "started"),
        ("skipped", "skipped"),
    ]
    assert first.asked_with == [context]
    assert context.current_step is None


def test_a_step_that_fails_without_saying_why_is_named_and_given_a_reason() -> None:
    sink = RecordingSink()
    context = BaseStepContext(runtime_ctx=RuntimeContext(sinks=[sink]))
    registry = StepRegistry[BaseStepContext]()
    registry.register(Seen("mute", bare_failure=True))

    with capture_logs(), pytest.raises(StepExecutionError) as caught:
        Orchestrator(registry, context).execute()

    reason = "the step returned success=False without an error"
    assert str(caught.value) == f"step 'mute' failed: {reason}"
    assert caught.value.error == reason
    failed = [(e.step, e.error) for e in sink.events if isinstance(e, StepEvent)][-2:]
    assert failed == [("mute", reason), ("mute", None)]  # failed, then rolled back


class RefusingRecorder:
    """A journal that takes the run's steps but refuses every rollback record."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def step_started(self, position: int, name: str) -> None:
        pass

    def record(self, name: str, key: str, value: Any) -> None:
        pass

    def append(self, name: str, key: str, items: Any, positions: Any) -> None:
        pass

    def step_succeeded(self, name: str, rollback_data: Any) -> None:
        pass

    def step_skipped(self, name: str) -> None:
        pass

    def step_failed(self, name: str, error: str, traceback: str | None = None) -> None:
        self.failed.append(name)

    def step_rolled_back(self, name: str) -> None:
        raise OSError(f"disk refused {name}")

    def rollback_failed(self, name: str, error: str) -> None:
        raise OSError(f"disk refused {name}")


def test_a_refused_rollback_record_is_logged_as_a_journal_failure_and_the_rollback_goes_on() -> (
    None
):
    runtime = RuntimeContext()
    runtime.recorder = RefusingRecorder()
    context = UndoLog(runtime_ctx=runtime)
    registry = StepRegistry[UndoLog]()
    registry.register(Step("a"))
    registry.register(Step("b", fail=True))

    with capture_logs() as logs, pytest.raises(StepExecutionError):
        Orchestrator(registry, context).execute()

    assert [name for name, _, _ in context.undone] == ["b", "a"]
    refused = [entry for entry in logs if entry["event"] == "journal_write_failed"]
    assert [(entry["error"], entry["log_level"]) for entry in refused] == [
        ("disk refused b", "error"),
        ("disk refused a", "error"),
    ]
    assert all(isinstance(entry["exc_info"], OSError) for entry in refused)


class WritesThenFails(BaseStep[Any]):
    """Writes a file through ``context.storage``; its own rollback may raise."""

    def __init__(self, target: Path, *, rollback_raises: bool = False) -> None:
        self.target = target
        self.rollback_raises = rollback_raises

    @property
    def name(self) -> str:
        return "write"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Any) -> StepResult:
        context.storage.write_text(str(self.target), "written by the run")
        return StepResult(success=True)

    def rollback(self, context: Any, result: StepResult) -> None:
        context.set_progress(1, 1)  # a rollback reporting progress must not move the bar
        if self.rollback_raises:
            raise OSError("own rollback broke")


@pytest.mark.parametrize("rollback_raises", [False, True])
def test_what_a_step_wrote_through_storage_is_undone_even_when_its_own_rollback_raises(
    tmp_path: Path, rollback_raises: bool
) -> None:
    target = tmp_path / "out" / "file.txt"
    sink = RecordingSink()
    context = BaseStepContext(runtime_ctx=RuntimeContext(sinks=[sink]))
    registry = StepRegistry[BaseStepContext]()
    registry.register(WritesThenFails(target, rollback_raises=rollback_raises))
    registry.register(Step("c", fail=True, undone=[]))

    with capture_logs(), pytest.raises(StepExecutionError) as caught:
        Orchestrator(registry, context).execute()

    assert not target.exists()
    assert not (tmp_path / "out").exists()  # the folder the write created, too
    assert [p.percent for p in sink.events if isinstance(p, ProgressEvent)] == [50]
    rolled = [(e.status, e.undone) for e in sink.events if isinstance(e, StepEvent)]
    if rollback_raises:
        assert rolled[-1] == ("rollback_failed", None)
        assert caught.value.rollback_errors == [
            "rollback of step 'write' failed: OSError: own rollback broke"
        ]
    else:
        assert rolled[-1] == ("rolled_back", True)


class RefusingEverything(RefusingRecorder):
    def step_failed(self, name: str, error: str, traceback: str | None = None) -> None:
        raise OSError(f"disk refused the failure of {name}")


def test_a_journal_refusing_the_failure_and_the_rollback_failure_is_logged_and_ignored() -> None:
    runtime = RuntimeContext()
    runtime.recorder = RefusingEverything()
    context = UndoLog(runtime_ctx=runtime)
    registry = StepRegistry[UndoLog]()
    registry.register(RollbackRaises())
    registry.register(Step("b", fail=True))

    with capture_logs() as logs, pytest.raises(StepExecutionError, match="b broke"):
        Orchestrator(registry, context).execute()

    refused = [entry["error"] for entry in logs if entry["event"] == "journal_write_failed"]
    assert refused == [
        "disk refused the failure of b",
        "disk refused b",
        "disk refused fragile",
    ]
