"""Upload actions: copy local files to a storage target."""

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

__all__ = ["UPLOAD_STEP", "BaseUploadAction", "UploadContext", "UploadParams", "UploadedObject"]


class UploadParams(ActionParams):
    """Params every upload action shares; extend it with your target's own."""

    source: str = Field(description="Local directory (or file) to upload.")
    target: str = Field(description="Destination: a directory or fsspec URL (file://, s3://...).")
    storage_options: dict[str, Any] = storage_options_field("the target")


UPLOAD_STEP = "upload"
"""Conventional name of the step that writes objects to the target.

Plugins that work with any upload action (integrity checks, notifications) anchor on it:
``registry.insert_after(UPLOAD_STEP, ...)`` when ``UPLOAD_STEP in registry``.
"""


@dataclass(frozen=True)
class UploadedObject:
    """One object an upload wrote: where it came from, where it went, and its checksum."""

    source: str
    target: str
    size: int
    sha256: str | None = None


@dataclass
class UploadContext(ActionContext[P]):
    """State shared by the steps of an upload.

    Generic in the params model, like :class:`ActionContext`: steps typed with
    ``UploadContext[MyParams]`` have ``context.params`` type-checked.

    Attributes:
        files: the local files selected for upload (paths relative to ``source``).
        uploaded: every object this run wrote, in order, so that rollback removes exactly
            those and verification steps can re-read them.
        total_bytes: bytes uploaded so far.
    """

    files: list[str] = field(default_factory=list)
    uploaded: list[UploadedObject] = field(default_factory=list)
    total_bytes: int = 0


class BaseUploadAction(BaseAction[P]):
    """Base class of upload actions; its steps get an :class:`UploadContext`."""

    kind: ClassVar[str] = "upload"
    params_model: ClassVar[type[ActionParams]] = UploadParams
    context_class: ClassVar[type[UploadContext[Any]]] = UploadContext
