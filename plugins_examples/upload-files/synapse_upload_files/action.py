"""The ``upload-files`` action."""

from __future__ import annotations

from synapse_sdk.actions.upload import UploadContext
from synapse_sdk.plugins import BaseUploadAction
from synapse_sdk.plugins.steps import StepRegistry

from synapse_upload_files.params import UploadFilesParams
from synapse_upload_files.steps import Discover, Manifest, Summary, Upload, Validate

__all__ = ["UploadFilesAction", "UploadFilesParams"]


class UploadFilesAction(BaseUploadAction[UploadFilesParams]):
    """Upload a directory tree to any fsspec URL, with a sha256 manifest."""

    action_name = "upload-files"

    def setup_steps(self, registry: StepRegistry[UploadContext[UploadFilesParams]]) -> None:
        registry.register(Discover())
        registry.register(Validate())
        registry.register(Upload())
        registry.register(Manifest())
        registry.register(Summary())
