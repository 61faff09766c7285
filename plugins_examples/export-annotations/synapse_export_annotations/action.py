"""The ``export-annotations`` action."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from synapse_sdk.actions.export import ExportContext
from synapse_sdk.plugins import BaseExportAction, ExportParams
from synapse_sdk.plugins.steps import StepRegistry

from synapse_export_annotations.steps import Check, Coco, Load, Yolo


class ExportAnnotationsParams(ExportParams):
    dataset: str = Field(description="Folder with images/ and annotations.json.")
    formats: list[Literal["coco", "yolo"]] = Field(
        default_factory=lambda: ["coco", "yolo"], min_length=1, description="Formats to write."
    )


class ExportAnnotationsResult(BaseModel):
    """What an export hands on to the actions after it in a pipeline."""

    output_uri: str = Field(
        description="Canonical URL of the export folder (file:///abs/out, s3://bucket/out)."
    )
    formats: list[str] = Field(description="The formats written, each a subfolder of it.")
    images: int = Field(description="Images exported.")


class ExportAnnotationsAction(BaseExportAction[ExportAnnotationsParams]):
    """Export an annotated image dataset to COCO JSON and YOLO labels."""

    action_name = "export-annotations"
    result_model = ExportAnnotationsResult

    def setup_steps(self, registry: StepRegistry[ExportContext]) -> None:
        registry.register(Load())
        registry.register(Coco())
        registry.register(Yolo())
        registry.register(Check())
