"""``verify_upload``: re-read what an upload wrote and compare sizes and checksums."""

from __future__ import annotations

from synapse_sdk.actions.upload import UploadContext
from synapse_sdk.plugins.steps import BaseStep, StepResult

from synapse_integrity.digest import digest_of


class VerifyUpload(BaseStep[UploadContext]):
    """Fails when any uploaded object is missing or differs from what was sent.

    Reads through ``context.storage.fs``, so the action's ``storage_options`` (an S3
    endpoint, a profile) apply to the reads as they did to the writes.
    """

    name = "verify_upload"
    progress_weight = 0.1

    def execute(self, context: UploadContext) -> StepResult:
        problems: list[str] = []
        total = len(context.uploaded)
        for index, obj in enumerate(context.uploaded, start=1):
            try:
                size, sha256 = digest_of(context.storage.fs(obj.target), obj.target)
            except FileNotFoundError:
                problems.append(f"{obj.target}: missing")
            else:
                if size != obj.size:
                    problems.append(f"{obj.target}: {size} bytes, {obj.size} were sent")
                elif obj.sha256 is not None and sha256 != obj.sha256:
                    problems.append(
                        f"{obj.target}: sha256 {sha256[:12]}... differs from {obj.sha256[:12]}..."
                    )
            context.set_progress(index, total)
        if problems:
            return StepResult(
                success=False,
                error=f"{len(problems)} uploaded object(s) failed verification:\n  "
                + "\n  ".join(problems),
            )
        return StepResult(success=True, data={"verified": total})
