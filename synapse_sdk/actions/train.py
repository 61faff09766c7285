"""Train actions: fit a model on a dataset, report per-epoch metrics, save the model."""

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

__all__ = ["BaseTrainAction", "TrainContext", "TrainParams"]


class TrainParams(ActionParams):
    """Params every training action shares; extend it with your model's own."""

    epochs: int = Field(1, ge=1, description="Number of passes over the training data.")
    batch_size: int = Field(32, ge=1, description="Samples per optimisation step.")
    learning_rate: float = Field(1e-3, gt=0, description="Optimiser step size.")
    seed: int | None = Field(None, description="Random seed, for reproducible runs.")
    model_uri: str | None = Field(
        None, description="fsspec URL where the trained model is saved (file://, s3://...)."
    )
    storage_options: dict[str, Any] = storage_options_field("model_uri")


@dataclass
class TrainContext(ActionContext[P]):
    """State shared by the steps of a training run.

    Generic in the params model, like :class:`ActionContext`: steps typed with
    ``TrainContext[MyParams]`` have ``context.params`` type-checked.

    Attributes:
        dataset: the loaded data (whatever the dataset step produces).
        model: the model being trained.
        epoch: the last completed epoch (0 before training).
        metrics: the latest metric values (also reported through ``set_metrics``).
        model_uri: where the model was saved, once it was.
    """

    dataset: Any = None
    model: Any = None
    epoch: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    model_uri: str | None = None


class BaseTrainAction(BaseAction[P]):
    """Base class of training actions; its steps get a :class:`TrainContext`."""

    kind: ClassVar[str] = "train"
    params_model: ClassVar[type[ActionParams]] = TrainParams
    context_class: ClassVar[type[TrainContext[Any]]] = TrainContext
