"""The ``train-classifier`` action."""

from __future__ import annotations

from pydantic import BaseModel, Field
from synapse_sdk.actions.train import TrainContext
from synapse_sdk.plugins import BaseTrainAction, TrainParams
from synapse_sdk.plugins.steps import StepRegistry

from synapse_train_classifier.steps import Dataset, Evaluate, SaveModel, Train


class TrainClassifierParams(TrainParams):
    epochs: int = Field(10, ge=1, description="Passes over the training data.")
    learning_rate: float = Field(1e-4, gt=0, description="Regularisation strength (alpha).")
    seed: int | None = Field(0, description="Random seed for the split and the shuffles.")
    model_uri: str = Field("model.pkl", description="fsspec URL or path the model is saved to.")
    test_size: float = Field(0.25, gt=0, lt=1, description="Share of the data held out.")
    min_accuracy: float = Field(0.0, ge=0, description="Fail when test accuracy is lower.")


class TrainClassifierResult(BaseModel):
    """What a training run hands on to the actions after it in a pipeline."""

    model_uri: str = Field(
        description="Canonical URL of the saved model (file:///abs/model.pkl, s3://...)."
    )
    accuracy: float = Field(description="Accuracy on the held-out test split, 0 to 1.")


class TrainClassifierAction(BaseTrainAction[TrainClassifierParams]):
    """Train a digits classifier and save it."""

    action_name = "train-classifier"
    result_model = TrainClassifierResult

    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(Dataset())
        registry.register(Train())
        registry.register(Evaluate())
        registry.register(SaveModel())
