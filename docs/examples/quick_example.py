"""The Quick Example of the Pipeline Patterns guide, as a runnable file."""

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
class MyContext(BaseStepContext):
    """Custom context for my workflow."""

    data: list[str] = field(default_factory=list)
    processed_count: int = 0


class LoadDataStep(BaseStep[MyContext]):
    @property
    def name(self) -> str:
        return "load_data"

    @property
    def progress_weight(self) -> float:
        return 0.2  # 20% of total progress

    def execute(self, context: MyContext) -> StepResult:
        context.data = ["item1", "item2", "item3"]
        return StepResult(success=True)


class ProcessDataStep(BaseStep[MyContext]):
    @property
    def name(self) -> str:
        return "process_data"

    @property
    def progress_weight(self) -> float:
        return 0.7  # 70% of total progress

    def execute(self, context: MyContext) -> StepResult:
        for _item in context.data:
            # Process each item
            context.processed_count += 1
        return StepResult(success=True)

    def rollback(self, context: MyContext, result: StepResult) -> None:
        # Cleanup on failure
        context.processed_count = 0


class FinalizeStep(BaseStep[MyContext]):
    @property
    def name(self) -> str:
        return "finalize"

    @property
    def progress_weight(self) -> float:
        return 0.1  # 10% of total progress

    def execute(self, context: MyContext) -> StepResult:
        return StepResult(success=True, data={"processed": context.processed_count})


# Execute the workflow
runtime_ctx = RuntimeContext()  # Create runtime context

registry = StepRegistry[MyContext]()
registry.register(LoadDataStep())
registry.register(ProcessDataStep())
registry.register(FinalizeStep())

context = MyContext(runtime_ctx=runtime_ctx)
orchestrator = Orchestrator(registry, context)
result = orchestrator.execute()
# {'success': True, 'steps_executed': 3, 'steps_total': 3}
print(result)
assert result == {"success": True, "steps_executed": 3, "steps_total": 3}
