"""The ``export-annotations`` action."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from synapse_sdk.plugins import BaseExportAction, ExportParams
from synapse_sdk.plugins.actions.export import ExportContext
from synapse_sdk.plugins.steps import StepRegistry

from synapse_export_annotations.steps import Check, Coco, Load, Yolo


class ExportAnnotationsParams(ExportParams):
    dataset: str = Field(description="Folder with images/ and annotations.json.")
    formats: list[Literal["coco", "yolo"]] = Field(
        default_factory=lambda: ["coco", "yolo"], min_length=1, description="Formats to write."
    )

    @field_validator("output_uri")
    @classmethod
    def _local_output(cls, uri: str) -> str:
        """This example writes with the local file system: a path or a file:// URL."""
        scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)(::|://)", uri)
        if (scheme and scheme.group(1).lower() != "file") or "::" in uri:
            raise PydanticCustomError(
                "output_uri",
                "'{uri}' is not a local folder: export-annotations writes to a local path "
                "or a file:// URL (export locally, then upload with upload-files)",
                {"uri": uri},
            )
        return uri


class ExportAnnotationsAction(BaseExportAction[ExportAnnotationsParams]):
    """Export an annotated image dataset to COCO JSON and YOLO labels."""

    action_name = "export-annotations"

    def setup_steps(self, registry: StepRegistry[ExportContext]) -> None:
        registry.register(Load())
        registry.register(Coco())
        registry.register(Yolo())
        registry.register(Check())
