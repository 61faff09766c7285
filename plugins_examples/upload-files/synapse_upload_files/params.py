"""The params of ``upload-files``, in their own module so that the steps can be typed
with them (``BaseStep[UploadContext[UploadFilesParams]]``) without importing the action."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from synapse_sdk.plugins import UploadParams


class UploadFilesParams(UploadParams):
    """Where from, where to, and what is allowed."""

    extensions: list[str] | None = Field(
        None, description="Allowed file extensions (e.g. ['png', 'csv']); all when omitted."
    )
    max_file_size: int = Field(
        100 * 1024 * 1024, gt=0, description="Largest file accepted, in bytes."
    )
    manifest_name: str = Field(
        "manifest.json",
        description="File name of the manifest, written at the top of the target "
        "(a plain name: no folders, no '..').",
    )

    @field_validator("manifest_name")
    @classmethod
    def _manifest_stays_in_the_target(cls, name: str) -> str:
        """The manifest is written at ``target/<manifest_name>``: nowhere else."""
        if name in ("", ".", "..") or any(char in name for char in "/\\\0:"):
            raise PydanticCustomError(
                "manifest_name",
                "'{name}' would not be written at the top of the target: use a plain "
                "file name like 'manifest.json' (no '/', '\\', ':', '..' or folders)",
                {"name": name},
            )
        return name
