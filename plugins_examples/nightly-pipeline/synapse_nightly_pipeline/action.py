"""The ``publish-release`` action."""

from __future__ import annotations

from synapse_sdk.plugins import BaseUploadAction
from synapse_sdk.plugins.steps import StepRegistry

from synapse_nightly_pipeline.release import (
    PublishReleaseParams,
    PublishReleaseResult,
    ReleaseContext,
)
from synapse_nightly_pipeline.steps import Collect, Manifest, Upload

__all__ = ["PublishReleaseAction", "PublishReleaseParams", "PublishReleaseResult"]


class PublishReleaseAction(BaseUploadAction[PublishReleaseParams]):
    """Publish an export and a model together as one release folder, with a manifest."""

    action_name = "publish-release"
    context_class = ReleaseContext
    result_model = PublishReleaseResult

    def setup_steps(self, registry: StepRegistry[ReleaseContext]) -> None:
        registry.register(Collect())
        registry.register(Upload())
        registry.register(Manifest())
