"""The steps of ``upload-files``: discover, validate, upload, manifest, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synapse_sdk.actions.upload import UPLOAD_STEP, UploadContext, UploadedObject
from synapse_sdk.errors import StepInputError
from synapse_sdk.plugins.steps import BaseStep, StepResult
from synapse_sdk.storage import canonical_url, open_url

from synapse_upload_files.params import UploadFilesParams
from synapse_upload_files.storage import join, name_fields, parent, printable, to_url


class Discover(BaseStep[UploadContext[UploadFilesParams]]):
    """List the regular files under ``source`` (links and special files are skipped)."""

    name = "discover"
    progress_weight = 0.05

    def execute(self, context: UploadContext[UploadFilesParams]) -> StepResult:
        source = Path(context.params.source)
        _check_source(source)
        files, skipped = [], []
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source).as_posix()
            if path.is_symlink() or (path.exists() and not path.is_file() and not path.is_dir()):
                skipped.append(printable(relative))
            elif path.is_file():
                files.append(relative)
        if not files:
            return StepResult(success=False, error=f"source {source} holds no files to upload")
        context.files = files
        context.log("discovered", {"files": len(files), "skipped": len(skipped)})
        return StepResult(success=True, data={"files": len(files), "skipped": skipped})


def _check_source(source: Path) -> None:
    """Refuse a source that is missing or not a folder: bad input (exit 2), not a crash."""
    if not source.exists():
        raise StepInputError(f"source {source} does not exist; give the folder to upload")
    if not source.is_dir():
        raise StepInputError(f"source {source} is not a directory; give the folder to upload")


class Validate(BaseStep[UploadContext[UploadFilesParams]]):
    """Check every file and the target before anything is written."""

    name = "validate"
    progress_weight = 0.05

    def execute(self, context: UploadContext[UploadFilesParams]) -> StepResult:
        params = context.params
        source = Path(params.source)
        allowed = {ext.lower().lstrip(".") for ext in params.extensions or []}
        problems: list[str] = []
        for relative in context.files:
            path = source / relative
            shown = printable(relative)
            suffix = path.suffix.lower().lstrip(".")
            if allowed and suffix not in allowed:
                problems.append(f"{shown}: extension '.{printable(suffix)}' is not allowed")
            size = path.stat().st_size
            if size > params.max_file_size:
                problems.append(
                    f"{shown}: {size} bytes is over the limit of {params.max_file_size}"
                )
            if not os.access(path, os.R_OK):
                problems.append(f"{shown}: cannot be read (permission denied)")
        if params.manifest_name in context.files:
            problems.append(
                f"{params.manifest_name}: a source file has the manifest's name; "
                "choose another manifest_name"
            )
        fs, root = open_url(params.target, context.storage.options)
        present = _present_under(fs, root)
        for relative in [*context.files, params.manifest_name]:
            if join(root, relative) in present:
                problems.append(
                    f"{printable(relative)}: already exists at the target (nothing is overwritten)"
                )
        blocked = _first_existing(fs, root)
        if blocked is not None and not fs.isdir(blocked):
            problems.append(f"{printable(to_url(fs, blocked))}: is a file, not a folder")
        if problems:
            shown = "\n  ".join(problems[:50])
            more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
            return StepResult(
                success=False,
                error=f"{len(problems)} problem(s), nothing was uploaded:\n  {shown}{more}",
            )
        return StepResult(success=True, data={"checked": len(context.files)})


class Upload(BaseStep[UploadContext[UploadFilesParams]]):
    """Copy the files to the target in parallel, with ``context.storage.put_files``.

    Locally the copies run on a thread pool; in a run on Ray they are Ray tasks spread
    over the cluster. The SDK journals every folder and object before it is created and
    every finished copy, so the run's rollback (even ``synapse runs rollback`` after a
    crash) removes exactly what this step wrote: this step has no rollback of its own.
    """

    name = UPLOAD_STEP
    progress_weight = 0.8

    def execute(self, context: UploadContext[UploadFilesParams]) -> StepResult:
        params = context.params
        source = os.path.abspath(params.source)
        root = canonical_url(params.target, context.storage.options)
        pairs = [(os.path.join(source, name), join(root, name)) for name in context.files]
        stored = context.storage.put_files(pairs)
        for (local, _), obj in zip(pairs, stored, strict=True):
            context.uploaded.append(UploadedObject(local, obj.url, obj.size, obj.sha256))
            context.total_bytes += obj.size
        return StepResult(success=True, data={"objects": len(stored), "bytes": context.total_bytes})


def _present_under(fs: Any, root: str) -> set[str]:
    """Every object under ``root`` now: one recursive listing, not a request per file."""
    if not fs.isdir(root):
        return set()
    return {str(path).rstrip("/") for path in fs.find(root)}


def _first_existing(fs: Any, path: str) -> str | None:
    """``path`` or its nearest ancestor that exists; None if none does."""
    while not fs.exists(path):
        above = parent(path)
        if above in ("", path):
            return None
        path = above
    return path


class Manifest(BaseStep[UploadContext[UploadFilesParams]]):
    """Write a JSON manifest with the size and sha256 of every uploaded object.

    Written through ``context.storage``, so the run's rollback removes it too.
    """

    name = "manifest"
    progress_weight = 0.05

    def execute(self, context: UploadContext[UploadFilesParams]) -> StepResult:
        params = context.params
        url = join(canonical_url(params.target, context.storage.options), params.manifest_name)
        document = {
            **name_fields("source", os.path.abspath(params.source)),
            "objects": [
                {**name_fields("path", relative), "size": obj.size, "sha256": obj.sha256}
                for relative, obj in zip(context.files, context.uploaded, strict=True)
            ],
        }
        context.storage.write_text(url, json.dumps(document, indent=2, ensure_ascii=False))
        return StepResult(success=True, data={"manifest": url})


class Summary(BaseStep[UploadContext[UploadFilesParams]]):
    """Report what was uploaded."""

    name = "summary"
    progress_weight = 0.05

    def execute(self, context: UploadContext[UploadFilesParams]) -> StepResult:
        context.log(
            "uploaded",
            {
                "objects": len(context.uploaded),
                "bytes": context.total_bytes,
                "target": context.params.target,
            },
        )
        return StepResult(
            success=True, data={"objects": len(context.uploaded), "bytes": context.total_bytes}
        )
