"""Progress inside a step: ``context.set_progress(i, n)`` moves the overall figure within
the running step's band; only increases are reported."""

from collections.abc import Callable

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
    """A step with a name, a weight and an optional body."""

    def __init__(
        self, name: str, weight: float, body: Callable[[BaseStepContext], None] | None = None
    ) -> None:
        self._name = name
        self._weight = weight
        self._body = body

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: BaseStepContext) -> StepResult:
        if self._body is not None:
            self._body(context)
        return StepResult(success=True)


def middle(context: BaseStepContext) -> None:
    context.set_progress(0, 100)  # 25: not above what was already reported, dropped
    context.set_progress(50, 100)  # 25 + 50 * 0.5 = 50
    context.set_progress(40, 100)  # 45: would go backwards, dropped
    context.set_progress(50, 100)  # 50 again: dropped
    context.set_progress(5, 0)  # total <= 0: ignored
    context.set_progress(250, 100)  # clamped to the end of the band: 75


registry = StepRegistry[BaseStepContext]()
registry.register(Step("download", 0.25))
registry.register(Step("convert", 0.5, middle))
registry.register(Step("upload", 0.25))

callback_saw: list[int] = []
sink_saw: list[tuple[int, str | None, float | None, float | None]] = []


def on_event(event: Event) -> None:
    assert isinstance(event, ProgressEvent)  # the sink below only asks for progress events
    sink_saw.append((event.percent, event.step, event.current, event.total))


runtime = RuntimeContext(sinks=[CallbackSink(on_event, kinds={"progress"})])
context = BaseStepContext(runtime_ctx=runtime)
orchestrator = Orchestrator(
    registry, context, progress_callback=lambda current, total: callback_saw.append(current)
)
orchestrator.execute()

print(callback_saw)
for line in sink_saw:
    print(line)

# 25 after download; 50 and 75 from inside convert; 75 again when convert finishes
# (one report per finished step, even when it repeats the figure); 100 after upload.
assert callback_saw == [25, 50, 75, 75, 100]
assert [percent for percent, *_ in sink_saw] == callback_saw
assert sink_saw[1] == (50, "convert", 50, 100)
assert sink_saw[3] == (75, "convert", None, None)
