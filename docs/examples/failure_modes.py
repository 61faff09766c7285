"""The four ways a step fails, and the error text each one produces."""

from collections.abc import Callable
from typing import Any, cast

from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


class Step(BaseStep[BaseStepContext]):
    def __init__(
        self,
        name: str,
        execute: Callable[[], Any],
        can_skip: Callable[[], bool] = lambda: False,
    ) -> None:
        self._name = name
        self._execute = execute
        self._can_skip = can_skip
        self.rolled_back_with: StepResult | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def can_skip(self, context: BaseStepContext) -> bool:
        return self._can_skip()

    def execute(self, context: BaseStepContext) -> StepResult:
        # Some cases below deliberately return something else than a StepResult.
        return cast(StepResult, self._execute())

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        self.rolled_back_with = result


def fail_with(step: Step) -> StepExecutionError:
    registry = StepRegistry[BaseStepContext]()
    registry.register(step)
    caught: StepExecutionError | None = None
    with capture_logs():
        try:
            Orchestrator(registry, BaseStepContext(runtime_ctx=RuntimeContext())).execute()
        except StepExecutionError as error:
            caught = error
    assert caught is not None, "the run should have failed"
    assert step.rolled_back_with is caught.result  # the failing step is rolled back too
    return caught


def raise_empty() -> StepResult:
    raise KeyError


def raise_lookup() -> StepResult:
    raise LookupError("no such dataset: 'cats'")


def skip_check_raises() -> bool:
    raise FileNotFoundError("marker.json")


cases = {
    "returns success=False": Step("a", lambda: StepResult(success=False, error="bad input")),
    "success=False, no error": Step("b", lambda: StepResult(success=False)),
    "raises": Step("c", raise_lookup),
    "raises, empty message": Step("d", raise_empty),
    "returns a non-StepResult": Step("e", lambda: {"success": True}),
    "can_skip raises": Step("f", lambda: StepResult(success=True), skip_check_raises),
}
for label, step in cases.items():
    error = fail_with(step)
    print(f"{label:26} {str(error)!r}  cause={error.__cause__!r}")

assert str(fail_with(Step("x", raise_empty))) == "step 'x' failed: KeyError"
assert str(fail_with(Step("y", lambda: 42))) == (
    "step 'y' failed: step 'y' returned int instead of a StepResult; "
    "return StepResult(success=...) from execute()"
)
assert str(fail_with(Step("z", lambda: StepResult(success=False)))) == (
    "step 'z' failed: the step returned success=False without an error"
)
