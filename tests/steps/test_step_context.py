"""BaseStepContext: ``current_step`` and the helpers tagged with it."""

from __future__ import annotations

import pytest
from steps.helpers import RecordingContext, Step, make_context, make_registry, run
from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import Orchestrator
from synapse_sdk.runtime import CallbackSink, Event, LogEvent, ProgressEvent


def test_defaults() -> None:
    context = RecordingContext(runtime_ctx=RuntimeContext())
    assert context.step_results == []
    assert context.errors == []
    assert context.current_step is None


def test_current_step_is_the_running_step_and_none_between_steps() -> None:
    seen: list[tuple[str, str | None]] = []
    context = make_context()

    def remember(where: str) -> None:
        seen.append((where, context.current_step))

    steps = [Step(name, during=lambda ctx, name=name: remember(name)) for name in "abc"]
    Orchestrator(make_registry(*steps), context, lambda *_: remember("callback")).execute()

    assert seen == [
        ("a", "a"),
        ("callback", None),
        ("b", "b"),
        ("callback", None),
        ("c", "c"),
        ("callback", None),
    ]
    assert context.current_step is None


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_current_step_is_none_after_a_failed_run(error: BaseException) -> None:
    context = make_context()
    with pytest.raises((StepExecutionError, KeyboardInterrupt)):
        run(Step("ok"), Step("bad", raises=error), context=context)
    assert context.current_step is None


def test_log_goes_through_the_runtime_logger_tagged_with_the_step() -> None:
    events: list[Event] = []
    with capture_logs() as logs:
        context = RecordingContext(runtime_ctx=RuntimeContext(sinks=[CallbackSink(events.append)]))
        run(Step("load", during=lambda ctx: ctx.log("loaded", {"rows": 3})), context=context)

    [entry] = [entry for entry in logs if entry["event"] == "loaded"]
    assert entry["step"] == "load"
    assert entry["rows"] == 3
    [log_event] = [e for e in events if isinstance(e, LogEvent) and e.message == "loaded"]
    assert log_event.step == "load"
    assert log_event.data == {"rows": 3}


def test_set_progress_is_tagged_with_the_step() -> None:
    events: list[Event] = []
    context = make_context(sinks=[CallbackSink(events.append, kinds={"progress"})])
    run(Step("first"), Step("second", during=lambda ctx: ctx.set_progress(1, 2)), context=context)

    inside = [e for e in events if isinstance(e, ProgressEvent) and e.current is not None]
    assert inside == [ProgressEvent(percent=75, step="second", current=1, total=2)]
