"""A progress callback or a sink that raises is logged and dropped; the run goes on."""

from __future__ import annotations

from steps.helpers import RecordingContext, Step, make_registry
from structlog.testing import capture_logs

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import Orchestrator
from synapse_sdk.runtime import CallbackSink, Event, ProgressEvent


class Broken:
    """A sink (or callback) that raises on every call and counts them."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: object) -> None:
        self.calls += 1
        raise ValueError("observer is broken")

    def emit(self, event: Event) -> None:
        self(event)

    def close(self) -> None:
        return None


def steps() -> list[Step]:
    return [Step("a", 0.25), Step("b", 0.5, during=lambda c: c.set_progress(1, 2)), Step("c", 0.25)]


def test_a_raising_progress_callback_is_logged_and_dropped() -> None:
    broken = Broken()
    with capture_logs() as logs:
        context = RecordingContext(runtime_ctx=RuntimeContext())
        result = Orchestrator(make_registry(*steps()), context, broken).execute()

    assert result == {"success": True, "steps_executed": 3, "steps_total": 3}
    assert broken.calls == 1
    assert context.executed == ["a", "b", "c"]
    assert context.rolled_back == []
    [entry] = [entry for entry in logs if entry["event"] == "progress_callback_failed"]
    assert "observer is broken" in entry["error"]
    assert isinstance(entry["exc_info"], ValueError)


def test_a_raising_sink_is_logged_and_dropped_and_other_sinks_keep_going() -> None:
    broken = Broken()
    good: list[Event] = []
    with capture_logs() as logs:
        runtime = RuntimeContext(sinks=[broken, CallbackSink(good.append, kinds={"progress"})])
        context = RecordingContext(runtime_ctx=runtime)
        result = Orchestrator(make_registry(*steps()), context).execute()

    assert result == {"success": True, "steps_executed": 3, "steps_total": 3}
    assert broken.calls == 1
    assert broken not in runtime.sinks
    assert [e.percent for e in good if isinstance(e, ProgressEvent)] == [25, 50, 75, 100]
    [entry] = [entry for entry in logs if entry["event"] == "progress_sink_failed"]
    assert entry["sink"] == "Broken"
    assert "observer is broken" in entry["error"]


def test_the_callback_still_gets_progress_when_the_only_sink_breaks() -> None:
    progress: list[tuple[int, int]] = []
    with capture_logs():
        context = RecordingContext(runtime_ctx=RuntimeContext(sinks=[Broken()]))
        Orchestrator(
            make_registry(*steps()), context, lambda cur, tot: progress.append((cur, tot))
        ).execute()
    assert [current for current, _ in progress] == [25, 50, 75, 100]
