"""Weighted progress: each step owns a band of 0-100 proportional to its weight."""

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


class Step(BaseStep[BaseStepContext]):
    """A step with a given name and weight that does nothing."""

    def __init__(self, name: str, weight: float) -> None:
        self._name = name
        self._weight = weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult(success=True)


def reported(weights: list[float]) -> list[int]:
    """Run steps with these weights; return the percentages the callback received."""
    registry = StepRegistry[BaseStepContext]()
    for index, weight in enumerate(weights):
        registry.register(Step(f"step{index}", weight))
    seen: list[int] = []

    def on_progress(current: int, total: int) -> None:
        assert total == 100
        seen.append(current)

    context = BaseStepContext(runtime_ctx=RuntimeContext())
    Orchestrator(registry, context, progress_callback=on_progress).execute()
    return seen


# Weights 0.2 / 0.7 / 0.1 report 20, 90, 100.
print(reported([0.2, 0.7, 0.1]))
assert reported([0.2, 0.7, 0.1]) == [20, 90, 100]

# Weights are normalised: only their ratios matter.
print(reported([2, 7, 1]))
assert reported([2, 7, 1]) == [20, 90, 100]

# All weights zero: every step counts equally.
print(reported([0, 0, 0]))
assert reported([0, 0, 0]) == [33, 67, 100]

# A zero-weight step among others owns an empty band: it reports the same figure again.
print(reported([1, 0, 1]))
assert reported([1, 0, 1]) == [50, 50, 100]

# Python's round() rounds halves to even: 12.5 -> 12, 37.5 -> 38.
print(reported([1] * 8))
assert reported([1] * 8) == [12, 25, 38, 50, 62, 75, 88, 100]

# No steps at all: one report of 100.
print(reported([]))
assert reported([]) == [100]
