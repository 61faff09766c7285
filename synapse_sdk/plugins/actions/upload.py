"""Upload actions: copy local files to a storage target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field

from synapse_sdk.plugins.actions.base import ActionContext, ActionParams, BaseAction, P

__all__ = ["BaseUploadAction", "UploadContext", "UploadParams"]


class UploadParams(ActionParams):
    """Params every upload action shares; extend it with your target's own."""

    source: str = Field(description="Local directory (or file) to upload.")
    target: str = Field(description="Destination: a directory or fsspec URL (file://, s3://...).")


@dataclass
class UploadContext(ActionContext):
    """State shared by the steps of an upload.

    Attributes:
        files: the local files selected for upload (paths relative to ``source``).
        uploaded: the target URLs this run wrote, so rollback can remove exactly those.
        total_bytes: bytes uploaded so far.
    """

    files: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    total_bytes: int = 0


class BaseUploadAction(BaseAction[P]):
    """Base class of upload actions; its steps get an :class:`UploadContext`."""

    kind: ClassVar[str] = "upload"
    params_model: ClassVar[type[ActionParams]] = UploadParams
    context_class: ClassVar[type[ActionContext]] = UploadContext
