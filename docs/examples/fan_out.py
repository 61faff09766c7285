"""context.map: one function over many items in parallel, with exact rollback.

Each item inserts a row into a database: a resource outside ``context.storage``, so the
step records what it created (``rollback_key``) and its own ``rollback`` deletes exactly
that. Files would go through ``context.storage`` instead, which undoes them for you.

Runs with the thread executor here; the same action with ``executor="ray"`` runs every
item as part of a Ray task (see docs/ray.md).
"""

import sqlite3
import tempfile
import uuid
from contextlib import closing
from pathlib import Path

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.errors import FanOutError, StepExecutionError
from synapse_sdk.plugins import BaseAction, PluginHost, RuntimeContext, run_action
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult
from synapse_sdk.runtime.context import quiet_logger


class ShardParams(ActionParams):
    database: str
    shards: int = 20
    broken: tuple[int, ...] = ()


def insert_shard(job: tuple[str, int, bool]) -> str:
    """The work for one item: runs on a worker thread (or a Ray worker), not in the step."""
    database, number, broken = job
    if broken:
        raise ValueError(f"shard {number} has no rows")
    row_id = uuid.uuid4().hex
    with closing(sqlite3.connect(database, timeout=30)) as db, db:
        db.execute("INSERT INTO shards (id, number) VALUES (?, ?)", (row_id, number))
    return row_id


class PublishShards(BaseStep[ActionContext[ShardParams]]):
    name = "publish_shards"
    progress_weight = 1.0

    def execute(self, context: ActionContext[ShardParams]) -> StepResult:
        params = context.params
        jobs = [(params.database, n, n in params.broken) for n in range(params.shards)]
        # Results come back in item order; each success is recorded under "inserted" as it
        # lands, so the rollback below sees exactly those, even after a failure.
        row_ids = context.map(insert_shard, jobs, rollback_key="inserted")
        return StepResult(success=True, data={"shards": len(row_ids)})

    def rollback(self, context: ActionContext[ShardParams], result: StepResult) -> None:
        row_ids = [(row_id,) for row_id in result.rollback_data.get("inserted", [])]
        with closing(sqlite3.connect(context.params.database)) as db, db:
            db.executemany("DELETE FROM shards WHERE id = ?", row_ids)


class PublishShardsAction(BaseAction[ShardParams]):
    def setup_steps(self, registry: StepRegistry[ActionContext[ShardParams]]) -> None:
        registry.register(PublishShards())


def run(database: Path, home: str, **params: object) -> dict[str, object]:
    """Run the action without installed hook plugins, journalled under ``home``."""
    ctx = RuntimeContext(env={"SYNAPSE_HOME": home}, logger=quiet_logger())
    return run_action(
        PublishShardsAction, {"database": str(database), **params}, ctx=ctx, plugins=PluginHost()
    )


def rows(database: Path) -> int:
    with closing(sqlite3.connect(database)) as db:
        (count,) = db.execute("SELECT count(*) FROM shards").fetchone()
    return int(count)


with tempfile.TemporaryDirectory() as home:
    database = Path(home) / "catalogue.db"
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("CREATE TABLE shards (id TEXT PRIMARY KEY, number INTEGER NOT NULL)")
    print(run(database, home))
    assert rows(database) == 20

    try:
        run(database, home, broken=[3, 11])
    except StepExecutionError as error:
        fan_out_error = error.__cause__
        assert isinstance(fan_out_error, FanOutError)
        print([(failure.index, failure.error) for failure in fan_out_error.failures])
    # The 18 rows that second run inserted were rolled back: the first run's 20 remain.
    assert rows(database) == 20
