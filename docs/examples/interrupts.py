"""KeyboardInterrupt and SystemExit: the same rollback, then the original exception."""

from structlog.testing import capture_logs

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)

rolled_back: list[str] = []


class Step(BaseStep[BaseStepContext]):
    def __init__(self, name: str, interrupt: BaseException | None = None) -> None:
        self._name = name
        self.interrupt = interrupt

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        if self.interrupt is not None:
            raise self.interrupt
        return StepResult(success=True)

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        rolled_back.append(self._name)


for interrupt in (KeyboardInterrupt(), SystemExit(3)):
    rolled_back.clear()
    registry = StepRegistry[BaseStepContext]()
    registry.register(Step("prepare"))
    registry.register(Step("train", interrupt=interrupt))
    context = BaseStepContext(runtime_ctx=RuntimeContext())
    with capture_logs():
        try:
            Orchestrator(registry, context).execute()
        except (KeyboardInterrupt, SystemExit) as exc:
            caught = exc
    print(repr(caught), rolled_back, context.errors)
    assert caught is interrupt  # the very same exception object, not wrapped
    assert rolled_back == ["train", "prepare"]
    assert context.step_results[-1].success is False
