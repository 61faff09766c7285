"""The steps of ``upload-files``: discover, validate, upload, manifest, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synapse_sdk.plugins.actions.upload import UPLOAD_STEP, UploadContext, UploadedObject
from synapse_sdk.plugins.steps import BaseStep, StepResult

from synapse_upload_files.storage import copy_with_digest, join, open_target, to_url


class Discover(BaseStep[UploadContext]):
    """List the regular files under ``source`` (links and special files are skipped)."""

    name = "discover"
    progress_weight = 0.05

    def execute(self, context: UploadContext) -> StepResult:
        source = Path(context.params.source)
        if not source.is_dir():
            return StepResult(success=False, error=f"source {source} is not a directory")
        files, skipped = [], []
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source).as_posix()
            if path.is_symlink() or (path.exists() and not path.is_file() and not path.is_dir()):
                skipped.append(relative)
            elif path.is_file():
                files.append(relative)
        if not files:
            return StepResult(success=False, error=f"source {source} holds no files to upload")
        context.files = files
        context.log("discovered", {"files": len(files), "skipped": len(skipped)})
        return StepResult(success=True, data={"files": len(files), "skipped": skipped})


class Validate(BaseStep[UploadContext]):
    """Check every file and the target before anything is written."""

    name = "validate"
    progress_weight = 0.05

    def execute(self, context: UploadContext) -> StepResult:
        params = context.params
        source = Path(params.source)
        allowed = {ext.lower().lstrip(".") for ext in params.extensions or []}
        problems: list[str] = []
        for relative in context.files:
            path = source / relative
            suffix = path.suffix.lower().lstrip(".")
            if allowed and suffix not in allowed:
                problems.append(f"{relative}: extension '.{suffix}' is not allowed")
            size = path.stat().st_size
            if size > params.max_file_size:
                problems.append(
                    f"{relative}: {size} bytes is over the limit of {params.max_file_size}"
                )
            if not os.access(path, os.R_OK):
                problems.append(f"{relative}: cannot be read (permission denied)")
        fs, root = open_target(params.target)
        for relative in [*context.files, params.manifest_name]:
            if fs.exists(join(root, relative)):
                problems.append(
                    f"{relative}: already exists at the target (nothing is overwritten)"
                )
        if problems:
            shown = "\n  ".join(problems[:50])
            more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
            return StepResult(
                success=False,
                error=f"{len(problems)} problem(s), nothing was uploaded:\n  {shown}{more}",
            )
        return StepResult(success=True, data={"checked": len(context.files)})


def _remove(fs: Any, paths: list[str], folders: list[str]) -> int:
    removed = 0
    for path in reversed(paths):
        if fs.exists(path):
            fs.rm_file(path)
            removed += 1
    for folder in reversed(folders):  # deepest first; only if this run left them empty
        if fs.isdir(folder) and not fs.ls(folder):
            fs.rmdir(folder)
    return removed


def _upload_one(job: tuple[str, str, str]) -> dict[str, Any]:
    """Copy one file to the target (on a worker thread, or a Ray task on the cluster).

    A failed or interrupted copy removes its partial object, so only whole objects remain.
    """
    source, target_url, target = job
    fs, _ = open_target(target_url)
    try:
        size, sha256 = copy_with_digest(Path(source), fs, target)
    except BaseException:
        if fs.exists(target):
            fs.rm_file(target)
        raise
    return {"target": target, "size": size, "sha256": sha256}


class Upload(BaseStep[UploadContext]):
    """Copy the files to the target in parallel, through ``context.map``.

    Locally the copies run on a thread pool; in a run on Ray they are Ray tasks spread
    over the cluster. Folders are created first, in order. The planned targets are
    recorded before any copy starts and every finished copy as it lands, so a rollback,
    even one run by ``synapse runs rollback`` after a crash, removes exactly what this
    step wrote (validation made sure none of the targets existed before).
    """

    name = UPLOAD_STEP
    progress_weight = 0.8

    def execute(self, context: UploadContext) -> StepResult:
        params = context.params
        fs, root = open_target(params.target)
        folders: list[str] = []
        for relative in context.files:
            for folder in _missing_folders(fs, root, relative):
                if folder not in folders:
                    folders.append(folder)
                    context.record_rollback("folders", folders)
                    fs.makedirs(folder, exist_ok=True)
        jobs = [
            (str(Path(params.source) / relative), params.target, join(root, relative))
            for relative in context.files
        ]
        context.record_rollback("planned", [target for _, _, target in jobs])
        copies = context.map(_upload_one, jobs, rollback_key="written")
        for (source, _, _), copy in zip(jobs, copies, strict=True):
            context.uploaded.append(
                UploadedObject(source, to_url(fs, copy["target"]), copy["size"], copy["sha256"])
            )
            context.total_bytes += copy["size"]
        return StepResult(
            success=True,
            data={"objects": len(copies), "bytes": context.total_bytes},
            rollback_data={"written": copies, "folders": folders},
        )

    def rollback(self, context: UploadContext, result: StepResult) -> None:
        fs, _ = open_target(context.params.target)
        data = result.rollback_data
        written = [copy["target"] for copy in data.get("written", [])]
        # After a crash the copies in flight were never reported: they are planned targets
        # that exist now, and nothing existed there before the run.
        known = set(written)
        leftovers = [path for path in data.get("planned", []) if path not in known]
        removed = _remove(fs, written + leftovers, data.get("folders", []))
        context.log("upload_rolled_back", {"removed": removed}, level="warning")


def _missing_folders(fs: Any, root: str, relative: str) -> list[str]:
    """Folders (root first) that must be created for ``relative``, in creation order."""
    missing: list[str] = []
    parts = relative.split("/")[:-1]
    candidates = [root] + [join(root, "/".join(parts[: depth + 1])) for depth in range(len(parts))]
    for folder in candidates:
        if not fs.isdir(folder):
            missing.append(folder)
    return missing


class Manifest(BaseStep[UploadContext]):
    """Write a JSON manifest with the size and sha256 of every uploaded object."""

    name = "manifest"
    progress_weight = 0.05

    def execute(self, context: UploadContext) -> StepResult:
        params = context.params
        fs, root = open_target(params.target)
        path = join(root, params.manifest_name)
        context.record_rollback("manifest", path)
        entries = [
            {"path": relative, "size": obj.size, "sha256": obj.sha256}
            for relative, obj in zip(context.files, context.uploaded, strict=True)
        ]
        with fs.open(path, "w") as writer:
            json.dump({"source": params.source, "objects": entries}, writer, indent=2)
        return StepResult(
            success=True, data={"manifest": to_url(fs, path)}, rollback_data={"manifest": path}
        )

    def rollback(self, context: UploadContext, result: StepResult) -> None:
        path = result.rollback_data.get("manifest")
        fs, _ = open_target(context.params.target)
        if path and fs.exists(path):
            fs.rm_file(path)


class Summary(BaseStep[UploadContext]):
    """Report what was uploaded."""

    name = "summary"
    progress_weight = 0.05

    def execute(self, context: UploadContext) -> StepResult:
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
