"""The steps of ``publish-release``: collect, upload, manifest.

Every write goes through ``context.storage``: the SDK journals each object before it is
written (and keeps the previous content of one it replaces), and when the run rolls back,
alone or as part of a pipeline, from this process or from ``synapse runs rollback`` after
a crash, it deletes exactly what the run created and puts back what it replaced. No step
has rollback code of its own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from synapse_sdk.actions.upload import UPLOAD_STEP, UploadedObject
from synapse_sdk.errors import StepInputError
from synapse_sdk.plugins.steps import BaseStep, StepResult
from synapse_sdk.storage import canonical_url, open_url

from synapse_nightly_pipeline.release import EXPORT_FOLDER, MANIFEST, ReleaseContext


def local_path(uri: str, param: str) -> Path:
    """The local path of a source URI (a path or ``file://`` URL).

    Raises:
        StepInputError: ``uri`` is on another filesystem (``s3://``...).
    """
    from fsspec.implementations.local import LocalFileSystem

    fs, path = open_url(uri)
    if not isinstance(fs, LocalFileSystem):
        raise StepInputError(
            f"{param} {uri} is not on this machine; publish-release reads the export and the "
            "model from local paths or file:// URLs (the target may be any fsspec URL)"
        )
    return Path(path)


def release_root(context: ReleaseContext) -> str:
    """The canonical URL of the release folder (``file:///abs/release``, ``s3://b/release``)."""
    return canonical_url(context.params.target, context.storage.options)


class Collect(BaseStep[ReleaseContext]):
    """List what the release holds, before anything is written: every file of the export
    folder (under ``export/``) and the model (at the top, under its own name)."""

    name = "collect"
    progress_weight = 0.1

    def execute(self, context: ReleaseContext) -> StepResult:
        params = context.params
        export = local_path(params.export_uri, "export_uri")
        model = local_path(params.model_uri, "model_uri")
        if not export.is_dir():
            raise StepInputError(
                f"export_uri {params.export_uri} is not a folder; give the export's folder "
                "(export-annotations hands it on as output_uri)"
            )
        if not model.is_file():
            raise StepInputError(f"model_uri {params.model_uri} is not a file; give the model")
        if model.name in (EXPORT_FOLDER, MANIFEST):
            raise StepInputError(
                f"the model's name '{model.name}' is taken in the release by the "
                f"{'export folder' if model.name == EXPORT_FOLDER else 'manifest'}; rename it"
            )
        root, exported = release_root(context), canonical_url(str(export))
        if root == exported or root.startswith(exported + "/"):
            raise StepInputError(
                f"target {params.target} is inside the export folder {export}; "
                "publish the release elsewhere"
            )
        sources = {
            f"{EXPORT_FOLDER}/{path.relative_to(export).as_posix()}": str(path)
            for path in sorted(export.rglob("*"))
            if path.is_file()
        }
        if not sources:
            raise StepInputError(f"the export folder {export} holds no files to publish")
        sources[model.name] = str(model)
        context.sources = sources
        context.files = list(sources)
        return StepResult(success=True, data={"files": len(sources)})


class Upload(BaseStep[ReleaseContext]):
    """Copy every file to the release folder in parallel (``context.storage.put_files``).

    Named ``upload`` (:data:`UPLOAD_STEP`), so that plugins working with any upload action
    find it: the integrity-steps example, when installed, verifies each copy after it.
    """

    name = UPLOAD_STEP
    progress_weight = 0.8

    def execute(self, context: ReleaseContext) -> StepResult:
        root = release_root(context)
        pairs = [(context.sources[name], f"{root}/{name}") for name in context.files]
        stored = context.storage.put_files(pairs)
        for (local, _), obj in zip(pairs, stored, strict=True):
            context.uploaded.append(UploadedObject(local, obj.url, obj.size, obj.sha256))
            context.total_bytes += obj.size
        return StepResult(success=True, data={"objects": len(stored), "bytes": context.total_bytes})


class Manifest(BaseStep[ReleaseContext]):
    """Write ``manifest.json``: where the release comes from, and each file's size and
    sha256. Written last, so a release with a manifest is a complete one."""

    name = "manifest"
    progress_weight = 0.1

    def execute(self, context: ReleaseContext) -> StepResult:
        params = context.params
        if params.pause_file is not None:
            while Path(params.pause_file).exists():
                time.sleep(0.05)
        root = release_root(context)
        url = f"{root}/{MANIFEST}"
        if params.refuse:
            return StepResult(success=False, error=f"{url}: refused (refuse=true, a test hook)")
        document = {
            "export_uri": canonical_url(params.export_uri),
            "model_uri": canonical_url(params.model_uri),
            "accuracy": params.accuracy,
            "files": [
                {"path": name, "size": obj.size, "sha256": obj.sha256}
                for name, obj in zip(context.files, context.uploaded, strict=True)
            ],
        }
        context.storage.write_text(url, json.dumps(document, indent=2) + "\n")
        context.set_result(release_uri=root, manifest_uri=url, files=len(context.uploaded))
        return StepResult(success=True, data={"manifest": url})
