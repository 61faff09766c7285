"""context.map: one function over many items in parallel, with exact rollback.

Runs with the thread executor here; the same action with ``executor="ray"`` runs every
item as part of a Ray task (see docs/ray.md).
"""

import tempfile
from pathlib import Path

from synapse_sdk.errors import FanOutError, StepExecutionError
from synapse_sdk.plugins import (
    BaseExportAction,
    ExportParams,
    PluginHost,
    RuntimeContext,
    run_action,
)
from synapse_sdk.actions.export import ExportContext
from synapse_sdk.runtime.context import quiet_logger
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class ShardParams(ExportParams):
    shards: int = 20
    broken: tuple[int, ...] = ()


def write_shard(job: tuple[str, int, bool]) -> str:
    """The work for one item: runs on a worker thread (or a Ray worker), not in the step."""
    folder, number, broken = job
    if broken:
        raise ValueError(f"shard {number} has no rows")
    path = Path(folder) / f"shard-{number:03d}.txt"
    path.write_text(f"rows of shard {number}\n")
    return str(path)


class WriteShards(BaseStep[ExportContext]):
    name = "write_shards"
    progress_weight = 1.0

    def execute(self, context: ExportContext) -> StepResult:
        params = context.params
        Path(params.output_uri).mkdir(parents=True, exist_ok=True)
        jobs = [(params.output_uri, n, n in params.broken) for n in range(params.shards)]
        # Results come back in item order; each success is recorded under "written" as it
        # lands, so the rollback below sees exactly those, even after a failure.
        paths = context.map(write_shard, jobs, rollback_key="written")
        return StepResult(success=True, data={"shards": len(paths)})

    def rollback(self, context: ExportContext, result: StepResult) -> None:
        for path in result.rollback_data.get("written", []):
            Path(path).unlink(missing_ok=True)


class ExportShards(BaseExportAction[ShardParams]):
    def setup_steps(self, registry: StepRegistry[ExportContext]) -> None:
        registry.register(WriteShards())


def run(output: Path, home: str, **params: object) -> dict[str, object]:
    """Run the action without installed hook plugins, journalled under ``home``."""
    ctx = RuntimeContext(env={"SYNAPSE_HOME": home}, logger=quiet_logger())
    return run_action(
        ExportShards, {"output_uri": str(output), **params}, ctx=ctx, plugins=PluginHost()
    )


with tempfile.TemporaryDirectory() as home:
    out = Path(home) / "out"
    print(run(out, home))
    assert len(list(out.iterdir())) == 20

    failed_out = Path(home) / "failed"
    try:
        run(failed_out, home, broken=[3, 11])
    except StepExecutionError as error:
        fan_out_error = error.__cause__
        assert isinstance(fan_out_error, FanOutError)
        print([(failure.index, failure.error) for failure in fan_out_error.failures])
    # The 18 shards that were written were rolled back: nothing is left behind.
    assert list(failed_out.iterdir()) == []
