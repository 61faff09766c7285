"""Per-step orchestrator overhead, side by side with a plain Python loop.

Both sides call the ``execute`` method of the same 1,000 trivial steps (each returns a new
``StepResult(success=True)``). The orchestrator side runs ``Orchestrator.execute()`` with a
progress callback attached; the loop side is the bare minimum::

    for step in steps:
        step.execute(context)

The two are timed alternately in the same process (the order flips every round), with the
garbage collector disabled while timing, for many rounds. The overhead is the orchestrator's
per-step time minus the loop's. The target is checked against the min-of-rounds overhead
(``min(orchestrator) - min(loop)``): on a shared, noisy machine the minimum is the
measurement least disturbed by other processes. Medians are reported too, and the median
of the per-round ratio orchestrator/loop, which does not move when the whole machine
speeds up or slows down between rounds.

Run: ``.venv/bin/python benchmarks/bench_orchestrator.py [--rounds 1000] [--steps 1000]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
from time import perf_counter_ns

from _common import emit, machine, summary

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)

TARGET_US_PER_STEP = 1.0


class NoopStep(BaseStep[BaseStepContext]):
    """A step that does nothing but return a fresh successful result."""

    def __init__(self, index: int) -> None:
        self._name = f"step_{index:04d}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult(success=True)


def on_progress(current: int, total: int) -> None:
    """The attached progress callback (does nothing, so only the call itself is measured)."""


def plain_loop(steps: list[BaseStep[BaseStepContext]], context: BaseStepContext) -> None:
    for step in steps:
        step.execute(context)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)
    n_steps: int = args.steps

    registry = StepRegistry[BaseStepContext]()
    for index in range(n_steps):
        registry.register(NoopStep(index))
    steps = registry.get_steps()
    context = BaseStepContext(runtime_ctx=RuntimeContext())
    orchestrator = Orchestrator(registry, context, progress_callback=on_progress)

    def time_orchestrator() -> int:
        start = perf_counter_ns()
        orchestrator.execute()
        return perf_counter_ns() - start

    def time_loop() -> int:
        start = perf_counter_ns()
        plain_loop(steps, context)
        return perf_counter_ns() - start

    result = orchestrator.execute()
    if result != {"success": True, "steps_executed": n_steps, "steps_total": n_steps}:
        sys.exit(f"unexpected orchestrator result: {result}")

    orch_ns: list[int] = []
    loop_ns: list[int] = []
    gc_was_enabled = gc.isenabled()
    try:
        for round_index in range(args.warmup + args.rounds):
            gc.collect()
            gc.disable()
            if round_index % 2 == 0:
                orch, loop = time_orchestrator(), time_loop()
            else:
                loop, orch = time_loop(), time_orchestrator()
            gc.enable()
            if round_index >= args.warmup:
                orch_ns.append(orch)
                loop_ns.append(loop)
    finally:
        if gc_was_enabled:
            gc.enable()

    def per_step_us(ns: float) -> float:
        return ns / n_steps / 1000

    orch_us = [per_step_us(ns) for ns in orch_ns]
    loop_us = [per_step_us(ns) for ns in loop_ns]
    paired = [o - lo for o, lo in zip(orch_us, loop_us, strict=True)]
    ratios = [o / lo for o, lo in zip(orch_us, loop_us, strict=True)]
    overhead_min = min(orch_us) - min(loop_us)
    overhead_median = statistics.median(orch_us) - statistics.median(loop_us)

    emit(
        {
            "benchmark": "orchestrator_overhead",
            "description": (
                f"{n_steps}-step run: Orchestrator.execute() with a progress callback vs a "
                "plain loop calling the same execute methods; microseconds per step"
            ),
            "machine": machine(),
            "steps": n_steps,
            "rounds": args.rounds,
            "warmup_rounds": args.warmup,
            "gc_disabled_while_timing": True,
            "orchestrator_us_per_step": summary(orch_us),
            "plain_loop_us_per_step": summary(loop_us),
            "overhead_us_per_step": {
                "min_of_rounds": round(overhead_min, 3),
                "median_of_rounds": round(overhead_median, 3),
                "median_of_paired_differences": round(statistics.median(paired), 3),
            },
            "orchestrator_to_loop_ratio_median": round(statistics.median(ratios), 3),
            "target_us_per_step": TARGET_US_PER_STEP,
            "target_statistic": "min_of_rounds",
            "target_met": overhead_min <= TARGET_US_PER_STEP,
        }
    )


if __name__ == "__main__":
    main()
