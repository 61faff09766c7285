"""Your first action: two steps, the second writing through context.storage.

Run: python docs/examples/first_action.py
"""

from tempfile import mkdtemp

from synapse_sdk.plugins import BaseExportAction, ExportParams, run_action
from synapse_sdk.actions.export import ExportContext
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class GreetParams(ExportParams):  # brings output_uri and overwrite
    names: list[str]


class Collect(BaseStep[ExportContext]):
    name = "collect"
    progress_weight = 0.2

    def execute(self, context: ExportContext) -> StepResult:
        context.items = [f"hello, {name}" for name in context.params.names]
        return StepResult(success=True, data={"count": len(context.items)})


class Write(BaseStep[ExportContext]):
    name = "write"
    progress_weight = 0.8

    def execute(self, context: ExportContext) -> StepResult:
        out = context.params.output_uri
        for index, line in enumerate(context.items, start=1):
            # context.storage journals the write; the SDK undoes it on rollback.
            context.storage.write_text(f"{out}/greeting-{index}.txt", line)
            context.set_progress(index, len(context.items))
        return StepResult(success=True)


class Greet(BaseExportAction[GreetParams]):
    def setup_steps(self, registry: StepRegistry[ExportContext]) -> None:
        registry.register(Collect())
        registry.register(Write())


if __name__ == "__main__":
    result = run_action(Greet, {"names": ["Ada", "Alan"], "output_uri": mkdtemp()})
    print(result)  # {'success': True, 'steps_executed': 2, 'steps_total': 2}
