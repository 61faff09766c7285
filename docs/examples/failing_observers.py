"""A progress callback or a sink that raises is logged and dropped; the run goes on."""

from structlog.testing import capture_logs

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.runtime import CallbackSink, Event, ProgressEvent
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


class Step(BaseStep[BaseStepContext]):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult(success=True)


class BrokenSink:
    def emit(self, event: Event) -> None:
        raise ConnectionError("dashboard unreachable")

    def close(self) -> None:
        return None


calls: list[int] = []


def broken_callback(current: int, total: int) -> None:
    calls.append(current)
    raise ValueError("callback bug")


registry = StepRegistry[BaseStepContext]()
for name in ("a", "b", "c"):
    registry.register(Step(name))
good_sink_saw: list[int] = []


def record_percent(event: Event) -> None:
    assert isinstance(event, ProgressEvent)
    good_sink_saw.append(event.percent)


broken = BrokenSink()
runtime = RuntimeContext(sinks=[broken, CallbackSink(record_percent, kinds={"progress"})])
orchestrator = Orchestrator(
    registry, BaseStepContext(runtime_ctx=runtime), progress_callback=broken_callback
)
with capture_logs() as logs:
    result = orchestrator.execute()

print(result, calls, good_sink_saw, [(e["event"], e["error"]) for e in logs])
assert result["success"]
assert calls == [33]  # called once, raised, not called again during this run
assert good_sink_saw == [33, 67, 100]  # the other sink saw everything
assert broken not in runtime.sinks  # the broken sink is removed from the runtime context
assert [e["event"] for e in logs] == ["progress_sink_failed", "progress_callback_failed"]

# The callback is the orchestrator's: the next run tries it again (and drops it again).
with capture_logs():
    orchestrator.execute()
assert calls == [33, 33]
