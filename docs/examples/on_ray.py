"""The same action, run on Ray: a local Ray is started for it (no address given).

Progress reaches the caller's sinks while the run goes on; the result comes back as in a
local run. Needs Ray: the ray extra, ``pip install -e '/path/to/synapse-sdk[ray]'``.
"""

import os
import tempfile

from synapse_sdk.plugins import (
    BaseTrainAction,
    PluginHost,
    RuntimeContext,
    TrainParams,
    run_action,
)
from synapse_sdk.actions.train import TrainContext
from synapse_sdk.runtime import CallbackSink
from synapse_sdk.runtime.context import quiet_logger
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class SweepParams(TrainParams):
    learning_rates: tuple[float, ...] = (0.1, 0.03, 0.01, 0.003)


def score(learning_rate: float) -> dict[str, float]:
    """One trial: a Ray task on the cluster. It must pickle and not touch the context."""
    return {"learning_rate": learning_rate, "loss": abs(learning_rate - 0.01), "pid": os.getpid()}


class Sweep(BaseStep[TrainContext]):
    name = "sweep"
    progress_weight = 1.0

    def execute(self, context: TrainContext) -> StepResult:
        trials = context.map(score, context.params.learning_rates, chunk_size=1)
        best = min(trials, key=lambda trial: trial["loss"])
        context.set_metrics({"best_learning_rate": best["learning_rate"]})
        return StepResult(success=True, data={"best": best["learning_rate"]})


class LearningRateSweep(BaseTrainAction[SweepParams]):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(Sweep())


percents: list[int] = []
with tempfile.TemporaryDirectory() as home:
    ctx = RuntimeContext(
        env={"SYNAPSE_HOME": home},
        logger=quiet_logger(),
        sinks=[CallbackSink(lambda event: percents.append(event.percent), kinds={"progress"})],
    )
    result = run_action(LearningRateSweep, {}, ctx=ctx, plugins=PluginHost(), executor="ray")
print(result)
print(percents[-1])
assert percents == sorted(percents)
