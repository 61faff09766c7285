"""``context.record_rollback``: hand work done so far to ``rollback``, even if the step raises.

For what is not a file (here, rows in a database): files written through
``context.storage`` are undone by the SDK, with no recording and no ``rollback`` in the step.
"""

from dataclasses import dataclass, field

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


@dataclass
class ImportContext(BaseStepContext):
    rows: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # stands in for the database


class InsertRows(BaseStep[ImportContext]):
    @property
    def name(self) -> str:
        return "insert_rows"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: ImportContext) -> StepResult:
        row_ids: list[str] = []
        for row in context.rows:
            if row == "broken":
                raise ValueError(f"cannot insert row {row!r}")
            row_ids.append(f"id-{row}")  # the id the database gave the new row
            context.record_rollback("row_ids", list(row_ids))  # what to undo so far
        return StepResult(success=True, rollback_data={"row_ids": row_ids})

    def rollback(self, context: ImportContext, result: StepResult) -> None:
        context.deleted.extend(result.rollback_data.get("row_ids", []))


registry = StepRegistry[ImportContext]()
registry.register(InsertRows())
context = ImportContext(runtime_ctx=RuntimeContext(), rows=["a", "b", "broken"])
with capture_logs():
    try:
        Orchestrator(registry, context).execute()
    except StepExecutionError as error:
        caught = error

print(caught, context.recorded_rollback, context.deleted)
# The step raised, yet its rollback got what it had recorded before raising.
assert context.deleted == ["id-a", "id-b"]
assert context.recorded_rollback == {"insert_rows": {"row_ids": context.deleted}}
# The rollback received a copy of the failed result with the recorded values merged in;
# the failed result itself (in step_results and on the exception) is left as it was.
assert caught.result is not None
assert caught.result.rollback_data == {}

# Outside a running step there is nothing to record for.
try:
    context.record_rollback("row_ids", [])
except RuntimeError as error:
    print(error)
