"""Per-step cost of the run journal: the same action run with and without it.

An action of ``--steps`` trivial steps is run by ``run_journalled`` (every step's start and
success written durably to a SQLite journal in WAL mode with ``synchronous=FULL``, in a
temporary folder) and by ``action.run()`` without a journal, alternately, ``--rounds``
times in one process. Also times ``context.record_rollback`` with and without a journal.
Prints one JSON document (microseconds per step).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, machine, summary

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import BaseAction, PluginHost, RuntimeContext
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult
from synapse_sdk.run.runner import run_journalled


class Params(ActionParams):
    steps: int = 100
    records: int = 0


class Trivial(BaseStep[ActionContext]):
    def __init__(self, index: int) -> None:
        self._name = f"step{index}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: ActionContext) -> StepResult:
        for index in range(context.params.records):
            context.record_rollback("made", index)
        return StepResult(success=True, rollback_data={"made": self._name})


class Many(BaseAction[Params]):
    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        for index in range(self.params.steps):
            registry.register(Trivial(index))


def quiet_context() -> RuntimeContext:
    import structlog

    return RuntimeContext(logger=structlog.wrap_logger(None, processors=[_drop]))


def _drop(*_: Any) -> Any:
    import structlog

    raise structlog.DropEvent


def per_step(params: dict[str, Any], journal: RunJournal | None) -> float:
    action = Many(params, quiet_context(), plugins=PluginHost())
    started = time.perf_counter()
    if journal is None:
        action.run()
    else:
        run_journalled(action, journal)
    return (time.perf_counter() - started) * 1e6 / params["steps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        journal = RunJournal(Path(folder) / "runs.db")
        params = {"steps": args.steps}
        per_step(params, journal)  # warm up both paths
        per_step(params, None)
        plain, journalled = [], []
        for _ in range(args.rounds):
            plain.append(per_step(params, None))
            journalled.append(per_step(params, journal))
        record_params = {"steps": 10, "records": 10}
        record_plain = [per_step(record_params, None) / 10 for _ in range(5)]
        record_journalled = [per_step(record_params, journal) / 10 for _ in range(5)]
        mode = journal.connection_mode()
        journal.close()
    emit(
        {
            "benchmark": "journal_overhead",
            "description": "per-step cost of a run with and without the SQLite run journal",
            "machine": machine(),
            "journal": {"journal_mode": mode[0], "synchronous": mode[1]},
            "steps": args.steps,
            "rounds": args.rounds,
            "us_per_step_without_journal": summary(plain, 1),
            "us_per_step_with_journal": summary(journalled, 1),
            "journal_cost_us_per_step_median": round(
                sorted(journalled)[len(journalled) // 2] - sorted(plain)[len(plain) // 2], 1
            ),
            "us_per_record_rollback_without_journal": summary(record_plain, 1),
            "us_per_record_rollback_with_journal": summary(record_journalled, 1),
        }
    )


if __name__ == "__main__":
    main()
