"""The steps of ``upload-files``: discover, validate, upload, manifest, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synapse_sdk.exceptions import StepInputError
from synapse_sdk.plugins.actions.upload import UPLOAD_STEP, UploadContext, UploadedObject
from synapse_sdk.plugins.steps import BaseStep, StepResult
from synapse_sdk.storage import open_url

from synapse_upload_files.storage import (
    copy_with_digest,
    join,
    name_fields,
    parent,
    printable,
    remove_empty_folders,
    remove_objects,
    to_url,
)


class Discover(BaseStep[UploadContext]):
    """List the regular files under ``source`` (links and special files are skipped)."""

    name = "discover"
    progress_weight = 0.05

    def execute(self, context: UploadContext) -> StepResult:
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
        fs, root = open_url(params.target)
        for relative in [*context.files, params.manifest_name]:
            if fs.exists(join(root, relative)):
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


def _upload_one(job: tuple[str, str]) -> dict[str, Any]:
    """Copy one file to the target URL (on a worker thread, or a Ray task on the cluster).

    A failed or interrupted copy removes its partial object, so only whole objects remain.
    """
    source, target = job
    fs, path = open_url(target)
    try:
        size, sha256 = copy_with_digest(Path(source), fs, path)
    except BaseException:
        if fs.exists(path):
            fs.rm_file(path)
        raise
    return {"target": target, "size": size, "sha256": sha256}


class Upload(BaseStep[UploadContext]):
    """Copy the files to the target in parallel, through ``context.map``.

    Locally the copies run on a thread pool; in a run on Ray they are Ray tasks spread
    over the cluster. Folders are created first, one by one, parents first, each
    recorded before it is created: the target's missing ancestors, the target, and its
    missing subfolders. The planned targets are recorded before any copy starts and
    every finished copy as it lands, so a rollback, even one run by ``synapse runs
    rollback`` after a crash, removes exactly what this step wrote (validation made sure
    none of the targets existed before). Everything recorded is a canonical URL.
    """

    name = UPLOAD_STEP
    progress_weight = 0.8

    def execute(self, context: UploadContext) -> StepResult:
        params = context.params
        fs, root = open_url(params.target)
        source = os.path.abspath(params.source)
        folders: list[str] = []
        for folder in _folders_to_create(fs, root, context.files):
            url = to_url(fs, folder)
            folders.append(url)
            context.record_rollback("folders", folders)
            try:
                fs.mkdir(folder, create_parents=False)
            except FileExistsError:  # created by someone else since we looked: not ours
                folders.remove(url)
                context.record_rollback("folders", folders)
        jobs = [
            (os.path.join(source, relative), to_url(fs, join(root, relative)))
            for relative in context.files
        ]
        context.record_rollback("planned", [target for _, target in jobs])
        copies = context.map(_upload_one, jobs, rollback_key="written")
        for (local, _), copy in zip(jobs, copies, strict=True):
            context.uploaded.append(
                UploadedObject(local, copy["target"], copy["size"], copy["sha256"])
            )
            context.total_bytes += copy["size"]
        return StepResult(
            success=True,
            data={"objects": len(copies), "bytes": context.total_bytes},
            rollback_data={"written": copies, "folders": folders},
        )

    def rollback(self, context: UploadContext, result: StepResult) -> None:
        data = result.rollback_data
        written = [copy["target"] for copy in data.get("written", [])]
        # After a crash the copies in flight were never reported: they are planned targets
        # that exist now, and nothing existed there before the run.
        known = set(written)
        leftovers = [url for url in data.get("planned", []) if url not in known]
        removed = remove_objects(written + leftovers)
        remove_empty_folders(data.get("folders", []))
        context.log("upload_rolled_back", {"removed": removed}, level="warning")


def _first_existing(fs: Any, path: str) -> str | None:
    """``path`` or its nearest ancestor that exists; None if none does."""
    while not fs.exists(path):
        above = parent(path)
        if above in ("", path):
            return None
        path = above
    return path


def _folders_to_create(fs: Any, root: str, files: list[str]) -> list[str]:
    """Folders that do not exist yet, parents first: the missing ancestors of ``root``,
    ``root`` itself, then the subfolders the files need."""
    missing: list[str] = []
    folder = root
    while not fs.isdir(folder):
        missing.insert(0, folder)
        above = parent(folder)
        if above in ("", folder):
            break
        folder = above
    seen = set(missing)
    for relative in files:
        parts = relative.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = join(root, "/".join(parts[:depth]))
            if folder not in seen:
                seen.add(folder)
                if not fs.isdir(folder):
                    missing.append(folder)
    return missing


class Manifest(BaseStep[UploadContext]):
    """Write a JSON manifest with the size and sha256 of every uploaded object."""

    name = "manifest"
    progress_weight = 0.05

    def execute(self, context: UploadContext) -> StepResult:
        params = context.params
        fs, root = open_url(params.target)
        path = join(root, params.manifest_name)
        url = to_url(fs, path)
        context.record_rollback("manifest", url)
        document = {
            **name_fields("source", os.path.abspath(params.source)),
            "objects": [
                {**name_fields("path", relative), "size": obj.size, "sha256": obj.sha256}
                for relative, obj in zip(context.files, context.uploaded, strict=True)
            ],
        }
        with fs.open(path, "wb") as writer:
            writer.write(json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"))
        return StepResult(success=True, data={"manifest": url}, rollback_data={"manifest": url})

    def rollback(self, context: UploadContext, result: StepResult) -> None:
        url = result.rollback_data.get("manifest")
        if url:
            remove_objects([url])


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
