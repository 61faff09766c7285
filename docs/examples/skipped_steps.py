"""Skipped steps, what ``steps_executed`` counts, and running the same orchestrator twice."""

from dataclasses import dataclass, field

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


@dataclass
class DownloadContext(BaseStepContext):
    cached: set[str] = field(default_factory=set)
    executions: int = 0


class Download(BaseStep[DownloadContext]):
    def __init__(self, item: str) -> None:
        self.item = item

    @property
    def name(self) -> str:
        return f"download_{self.item}"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def can_skip(self, context: DownloadContext) -> bool:
        return self.item in context.cached  # already there: nothing to do

    def execute(self, context: DownloadContext) -> StepResult:
        context.executions += 1
        context.cached.add(self.item)
        return StepResult(success=True, data={"item": self.item})


registry = StepRegistry[DownloadContext]()
for item in ("a", "b", "c"):
    registry.register(Download(item))
context = DownloadContext(runtime_ctx=RuntimeContext(), cached={"b"})
seen: list[int] = []
orchestrator = Orchestrator(
    registry, context, progress_callback=lambda current, total: seen.append(current)
)

first = orchestrator.execute()
print(first, seen)
print([(r.success, r.skipped, r.data) for r in context.step_results])
# The skipped step is reported like a finished one and has a result, but is not counted.
assert first == {"success": True, "steps_executed": 2, "steps_total": 3}
assert seen == [33, 67, 100]
assert [r.skipped for r in context.step_results] == [False, True, False]
assert context.step_results[1].success is True

# execute() again: step_results and errors start empty; this time everything is cached.
seen.clear()
second = orchestrator.execute()
print(second, seen, len(context.step_results))
assert second == {"success": True, "steps_executed": 0, "steps_total": 3}
assert seen == [33, 67, 100]
assert len(context.step_results) == 3
assert all(r.skipped for r in context.step_results)
assert context.executions == 2
