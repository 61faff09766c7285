"""A third-party sink: anything with ``emit(event)`` and ``close()`` is a ProgressSink."""

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.runtime import (
    Event,
    LogEvent,
    MetricsEvent,
    ProgressEvent,
    ProgressSink,
    StepEvent,
)
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


class DashboardSink:
    """Collects what a web dashboard would show; no base class needed."""

    def __init__(self) -> None:
        self.percent = 0
        self.timeline: list[str] = []
        self.metrics: dict[str, float] = {}
        self.closed = False

    def emit(self, event: Event) -> None:
        # Called on the thread that produced the event: keep it quick (queue slow work).
        if isinstance(event, ProgressEvent):
            self.percent = event.percent
        elif isinstance(event, StepEvent):
            self.timeline.append(f"{event.step}:{event.status}")
        elif isinstance(event, MetricsEvent):
            self.metrics.update(event.values)
        elif isinstance(event, LogEvent) and event.level == "error":
            self.timeline.append(f"error:{event.message}")

    def close(self) -> None:
        self.closed = True


class Evaluate(BaseStep[BaseStepContext]):
    @property
    def name(self) -> str:
        return "evaluate"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        context.set_metrics({"accuracy": 0.91})
        return StepResult(success=True)


sink = DashboardSink()
assert isinstance(sink, ProgressSink)  # the protocol is runtime-checkable

runtime = RuntimeContext(sinks=[sink])  # or runtime.add_sink(sink) later
registry = StepRegistry[BaseStepContext]()
registry.register(Evaluate())
Orchestrator(registry, BaseStepContext(runtime_ctx=runtime)).execute()
runtime.close()

print(sink.percent, sink.timeline, sink.metrics, sink.closed)
assert sink.percent == 100
assert sink.timeline == ["evaluate:started", "evaluate:succeeded"]
assert sink.metrics == {"accuracy": 0.91}
assert sink.closed
