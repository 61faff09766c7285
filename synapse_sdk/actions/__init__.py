"""Action base classes, one module per kind of work."""

from synapse_sdk.actions.base import ActionContext, ActionParams, BaseAction
from synapse_sdk.actions.export import BaseExportAction, ExportContext, ExportParams
from synapse_sdk.actions.train import BaseTrainAction, TrainContext, TrainParams
from synapse_sdk.actions.upload import BaseUploadAction, UploadContext, UploadParams

__all__ = [
    "ActionContext",
    "ActionParams",
    "BaseAction",
    "BaseExportAction",
    "BaseTrainAction",
    "BaseUploadAction",
    "ExportContext",
    "ExportParams",
    "TrainContext",
    "TrainParams",
    "UploadContext",
    "UploadParams",
]
