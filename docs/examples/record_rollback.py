"""``context.record_rollback``: hand work done so far to ``rollback``, even if the step raises."""

from dataclasses import dataclass, field

from structlog.testing import capture_logs

from synapse_sdk.exceptions import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


@dataclass
class UploadContext(BaseStepContext):
    files: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class UploadFiles(BaseStep[UploadContext]):
    @property
    def name(self) -> str:
        return "upload_files"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: UploadContext) -> StepResult:
        uploaded: list[str] = []
        for path in context.files:
            if path == "broken.jpg":
                raise OSError(f"cannot read {path}")
            uploaded.append(f"s3://bucket/{path}")
            context.record_rollback("uploaded", list(uploaded))  # what to undo so far
        return StepResult(success=True, rollback_data={"uploaded": uploaded})

    def rollback(self, context: UploadContext, result: StepResult) -> None:
        context.deleted.extend(result.rollback_data.get("uploaded", []))


registry = StepRegistry[UploadContext]()
registry.register(UploadFiles())
context = UploadContext(runtime_ctx=RuntimeContext(), files=["a.jpg", "b.jpg", "broken.jpg"])
with capture_logs():
    try:
        Orchestrator(registry, context).execute()
    except StepExecutionError as error:
        caught = error

print(caught, context.recorded_rollback, context.deleted)
# The step raised, yet its rollback got what it had recorded before raising.
assert context.deleted == ["s3://bucket/a.jpg", "s3://bucket/b.jpg"]
assert context.recorded_rollback == {"upload_files": {"uploaded": context.deleted}}
# The rollback received a copy of the failed result with the recorded values merged in;
# the failed result itself (in step_results and on the exception) is left as it was.
assert caught.result is not None
assert caught.result.rollback_data == {}

# Outside a running step there is nothing to record for.
try:
    context.record_rollback("uploaded", [])
except RuntimeError as error:
    print(error)
