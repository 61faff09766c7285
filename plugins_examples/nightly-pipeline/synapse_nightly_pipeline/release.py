"""What ``publish-release`` takes, what its steps share, and what it hands on.

In their own module so that the steps can be typed with them without importing the action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from synapse_sdk.actions.base import ActionParams, storage_options_field
from synapse_sdk.actions.upload import UploadContext

EXPORT_FOLDER = "export"
"""The release folder's subfolder that holds every file of the export."""

MANIFEST = "manifest.json"
"""The manifest's name, at the top of the release folder."""


class PublishReleaseParams(ActionParams):
    """Where the export and the model are, and where the release goes."""

    export_uri: str = Field(
        description="The export folder, every file of which is published (a local path "
        "or file:// URL; in nightly.toml, export-annotations' output_uri)."
    )
    model_uri: str = Field(
        description="The model file published beside it (a local path or file:// URL; in "
        "nightly.toml, train-classifier's model_uri)."
    )
    target: str = Field(
        description="The release folder: a path or any fsspec URL (s3://bucket/release/). "
        "Files already there under the same names are replaced (and put back on rollback)."
    )
    accuracy: float | None = Field(
        None, description="The model's test accuracy, recorded in the manifest."
    )
    storage_options: dict[str, Any] = storage_options_field("the target")
    refuse: bool = Field(
        False,
        description="Test hook: the manifest step fails after every file is copied, as a "
        "target refusing the last write would, so that the rollback can be seen.",
    )
    pause_file: str | None = Field(
        None,
        description="Test hook: the manifest step waits as long as this local file exists, "
        "so that a test can kill the run in the middle of a publish.",
    )


class PublishReleaseResult(BaseModel):
    """What a publish hands on: where the release and its manifest are."""

    release_uri: str = Field(description="Canonical URL of the release folder.")
    manifest_uri: str = Field(description="Canonical URL of its manifest.")
    files: int = Field(description="Files published (the manifest not counted).")


@dataclass
class ReleaseContext(UploadContext[PublishReleaseParams]):
    """The upload context, plus where each file of the release comes from.

    Attributes:
        sources: the local path of each file to publish, by its name in the release
            (``export/coco/annotations.json``, ``model.pkl``); ``files`` lists the names.
    """

    sources: dict[str, str] = field(default_factory=dict)
