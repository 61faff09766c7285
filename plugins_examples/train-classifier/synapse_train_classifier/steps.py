"""The steps of ``train-classifier``: dataset, train, evaluate, save_model.

numpy and scikit-learn are imported inside the steps that use them: importing them costs
about a second, and every ``synapse`` command that lists or plans actions imports this
module. Only a run pays for them.
"""

from __future__ import annotations

import pickle

from synapse_sdk.actions.train import TrainContext
from synapse_sdk.plugins.steps import BaseStep, StepResult
from synapse_sdk.storage import canonical_url


class Dataset(BaseStep[TrainContext]):
    name = "dataset"
    progress_weight = 0.1

    def execute(self, context: TrainContext) -> StepResult:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        params = context.params
        digits = load_digits()
        features = digits.data / 16.0
        split = train_test_split(
            features,
            digits.target,
            test_size=params.test_size,
            random_state=params.seed,
            stratify=digits.target,
        )
        context.dataset = dict(zip(("x_train", "x_test", "y_train", "y_test"), split, strict=True))
        return StepResult(success=True, data={"train": len(split[0]), "test": len(split[1])})


class Train(BaseStep[TrainContext]):
    name = "train"
    progress_weight = 0.7

    def execute(self, context: TrainContext) -> StepResult:
        import numpy as np
        from sklearn.linear_model import SGDClassifier

        params = context.params
        data = context.dataset
        model = SGDClassifier(
            loss="log_loss",
            alpha=params.learning_rate,
            random_state=params.seed,
            learning_rate="optimal",
        )
        classes = np.unique(data["y_train"])
        rng = np.random.default_rng(params.seed)
        for epoch in range(1, params.epochs + 1):
            order = rng.permutation(len(data["y_train"]))
            model.partial_fit(data["x_train"][order], data["y_train"][order], classes=classes)
            context.metrics = {
                "epoch": epoch,
                "train_accuracy": round(float(model.score(data["x_train"], data["y_train"])), 4),
                "val_accuracy": round(float(model.score(data["x_test"], data["y_test"])), 4),
            }
            context.epoch = epoch
            context.set_metrics(context.metrics)
            context.set_progress(epoch, params.epochs)
        context.model = model
        return StepResult(success=True, data=dict(context.metrics))


class Evaluate(BaseStep[TrainContext]):
    name = "evaluate"
    progress_weight = 0.1

    def execute(self, context: TrainContext) -> StepResult:
        data = context.dataset
        accuracy = float(context.model.score(data["x_test"], data["y_test"]))
        context.set_metrics({"test_accuracy": round(accuracy, 4)})
        minimum = context.params.min_accuracy
        if accuracy < minimum:
            return StepResult(
                success=False,
                error=f"test accuracy {accuracy:.3f} is below the required {minimum:.3f}",
            )
        context.set_result(accuracy=accuracy)
        return StepResult(success=True, data={"test_accuracy": accuracy})


class SaveModel(BaseStep[TrainContext]):
    """Save the model (pickle) at ``model_uri`` through ``context.storage``.

    The SDK journals the write (its canonical URL before, its size and sha256 after) and
    undoes it on rollback, from any folder and after a crash: this step has no rollback
    code of its own.
    """

    name = "save_model"
    progress_weight = 0.1

    def execute(self, context: TrainContext) -> StepResult:
        storage = context.storage
        url = canonical_url(context.params.model_uri, storage.options)
        if storage.exists(url):
            return StepResult(
                success=False, error=f"{url} already exists; choose another model_uri"
            )
        with storage.open(url) as writer:
            pickle.dump(context.model, writer)
        context.model_uri = url
        context.set_result(model_uri=url)
        return StepResult(success=True, data={"model_uri": url})
