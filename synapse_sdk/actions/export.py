"""Export actions: turn annotated data into files in a target format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field

from synapse_sdk.actions.base import (
    ActionContext,
    ActionParams,
    BaseAction,
    P,
    storage_options_field,
)

__all__ = ["BaseExportAction", "ExportContext", "ExportParams"]


class ExportParams(ActionParams):
    """Params every export action shares; extend it with your format's own."""

    output_uri: str = Field(description="Directory or fsspec URL the export is written to.")
    overwrite: bool = Field(False, description="Replace files that already exist at the output.")
    storage_options: dict[str, Any] = storage_options_field("the output")


@dataclass
class ExportContext(ActionContext[P]):
    """State shared by the steps of an export.

    Generic in the params model, like :class:`ActionContext`: steps typed with
    ``ExportContext[MyParams]`` have ``context.params`` type-checked.

    Attributes:
        items: the records being exported (images, annotations...).
        written: every file this run wrote, so rollback can remove exactly those.
    """

    items: list[Any] = field(default_factory=list)
    written: list[str] = field(default_factory=list)


class BaseExportAction(BaseAction[P]):
    """Base class of export actions; its steps get an :class:`ExportContext`."""

    kind: ClassVar[str] = "export"
    params_model: ClassVar[type[ActionParams]] = ExportParams
    context_class: ClassVar[type[ExportContext[Any]]] = ExportContext
