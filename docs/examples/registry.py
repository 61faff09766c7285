"""StepRegistry: an ordered list of uniquely named steps, checked at every call."""

import math
from collections.abc import Callable

from synapse_sdk.plugins.steps import BaseStep, BaseStepContext, StepRegistry, StepResult


class Step(BaseStep[BaseStepContext]):
    def __init__(self, name: str, weight: float = 1.0) -> None:
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


registry = StepRegistry[BaseStepContext]()
registry.register(Step("load", 0.2))
registry.register(Step("save", 0.1))
registry.insert_before("save", Step("process", 0.6))
registry.insert_after("save", Step("notify", 0.1))
registry.insert_before("load", Step("validate", 0.0))
print(registry, len(registry), registry.total_weight)
assert registry.names == ["validate", "load", "process", "save", "notify"]
assert "process" in registry
assert "missing" not in registry
assert math.isclose(registry.total_weight, 1.0)
assert [step.name for step in registry] == registry.names  # iterates over a snapshot

removed = registry.unregister("notify")  # returns the removed step
assert removed.name == "notify"
assert "notify" not in registry

steps = registry.get_steps()  # a copy: changing it does not change the registry
steps.clear()
assert len(registry) == 4

old = registry.replace("process", Step("process_v2", 0.6))  # same slot, new step
assert old.name == "process"
assert registry.names[2] == "process_v2"
assert registry.get("load").progress_weight == 0.2

# Every mistake is reported at the call that makes it.
mistakes: dict[str, Callable[[], object]] = {
    "not a step": lambda: registry.register("load"),  # type: ignore[arg-type]
    "a class, not an instance": lambda: registry.register(Step),  # type: ignore[arg-type]
    "duplicate name": lambda: registry.register(Step("load")),
    "negative weight": lambda: registry.register(Step("w1", -0.1)),
    "NaN weight": lambda: registry.register(Step("w2", math.nan)),
    "infinite weight": lambda: registry.register(Step("w3", math.inf)),
    "unknown name": lambda: registry.unregister("nope"),
    "unknown anchor": lambda: registry.insert_after("nope", Step("x")),
}
for label, call in mistakes.items():
    try:
        call()
    except (TypeError, ValueError) as error:
        print(f"{label:25} {type(error).__name__}: {error}")
    else:
        raise AssertionError(f"{label}: no error")
assert registry.names == ["validate", "load", "process_v2", "save"]  # nothing changed
