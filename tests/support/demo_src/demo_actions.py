"""Demo actions used by the tests: a real file-copying upload and a simple-mode action."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pydantic import Field, SecretStr

from synapse_sdk.actions.base import ActionParams
from synapse_sdk.actions.upload import UploadContext, UploadedObject
from synapse_sdk.plugins import BaseAction, BaseUploadAction, UploadParams
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class DemoParams(UploadParams):
    fail_at: str | None = Field(None, description="Name of a step that should fail.")
    hang_in_copy: float = Field(0.0, ge=0, description="Seconds to sleep in copy after each file.")
    token: SecretStr | None = Field(None, description="An API token (never printed).")


class ListFiles(BaseStep[UploadContext]):
    name = "list_files"
    progress_weight = 0.1

    def execute(self, context: UploadContext) -> StepResult:
        source = Path(context.params.source)
        if not source.is_dir():
            return StepResult(success=False, error=f"source {source} is not a directory")
        context.files = sorted(p.name for p in source.iterdir() if p.is_file())
        context.log("files_listed", {"count": len(context.files)})
        if context.params.fail_at == self.name:
            return StepResult(success=False, error="asked to fail")
        return StepResult(success=True, data={"count": len(context.files)})


class Copy(BaseStep[UploadContext]):
    name = "copy"
    progress_weight = 0.8

    def execute(self, context: UploadContext) -> StepResult:
        target = Path(context.params.target)
        target.mkdir(parents=True, exist_ok=True)
        written: list[str] = []
        for index, name in enumerate(context.files, start=1):
            if (target / name).exists():
                continue
            shutil.copy(Path(context.params.source) / name, target / name)
            written.append(name)
            context.record_rollback("written", written)
            size = (target / name).stat().st_size
            context.uploaded.append(
                UploadedObject(str(Path(context.params.source) / name), str(target / name), size)
            )
            context.set_progress(index, len(context.files))
            if context.params.hang_in_copy:
                time.sleep(context.params.hang_in_copy)
        if context.params.fail_at == self.name:
            raise OSError("disk full (simulated)")
        return StepResult(success=True, rollback_data={"written": written})

    def rollback(self, context: UploadContext, result: StepResult) -> None:
        # Works from the recorded names alone, so a crashed run can be undone from the journal.
        target = Path(context.params.target)
        written = result.rollback_data.get("written", [])
        for name in written:
            (target / name).unlink(missing_ok=True)
        context.log("copy_rolled_back", {"removed": len(written)}, level="warning")
        if target.exists() and not any(target.iterdir()):
            target.rmdir()


class Finish(BaseStep[UploadContext]):
    name = "finish"
    progress_weight = 0.1

    def execute(self, context: UploadContext) -> StepResult:
        if context.params.fail_at == self.name:
            return StepResult(success=False, error="asked to fail")
        return StepResult(success=True, data={"uploaded": len(context.uploaded)})


class DemoUpload(BaseUploadAction[DemoParams]):
    """Copies the files of a directory into another directory."""

    def setup_steps(self, registry: StepRegistry[UploadContext]) -> None:
        registry.register(ListFiles())
        registry.register(Copy())
        registry.register(Finish())


class SimpleParams(ActionParams):
    word: str = "hello"


class DemoSimple(BaseAction[SimpleParams]):
    """No steps: execute() does the job."""

    def execute(self) -> dict[str, str]:
        self.ctx.log("shouting", {"word": self.params.word})
        return {"shout": self.params.word.upper()}
