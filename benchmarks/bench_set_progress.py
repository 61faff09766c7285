"""A step calling ``context.set_progress`` a million times, with and without a terminal sink.

One orchestrated run of a single step whose ``execute`` is::

    for i in range(1, n + 1):
        context.set_progress(i, n)

Configurations, alternated round by round:

* ``terminal_sink``: the runtime context has a ``TerminalSink`` whose rich console writes to
  an in-memory buffer with ``force_terminal=True``, so the live bar really is drawn (by
  rich's refresh thread, competing for the GIL as it would in a terminal);
* ``no_sink``: a bare ``RuntimeContext()``, for comparison.

For each run it reports the seconds spent in ``Orchestrator.execute()`` (the million calls
plus the run's own events; the target is checked against this, min of the rounds, and the
median is reported too) and the seconds ``TerminalSink.close()`` took afterwards (the final
redraw and stopping rich's thread).

Run: ``.venv/bin/python benchmarks/bench_set_progress.py [--calls 1000000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
from time import perf_counter

from _common import emit, machine, summary
from rich.console import Console

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime import Event, ProgressEvent, ProgressSink, TerminalSink

TARGET_SECONDS = 1.0


class ChattyStep(BaseStep[BaseStepContext]):
    """Reports progress ``calls`` times."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    @property
    def name(self) -> str:
        return "chatty"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        n = self.calls
        for i in range(1, n + 1):
            context.set_progress(i, n)
        return StepResult(success=True)


class CountingTerminalSink(TerminalSink):
    """The terminal sink, counting the progress events that reach it."""

    progress_events = 0

    def emit(self, event: Event) -> None:
        if isinstance(event, ProgressEvent):
            self.progress_events += 1
        super().emit(event)


def one_run(calls: int, with_sink: bool) -> dict[str, float]:
    registry = StepRegistry[BaseStepContext]()
    registry.register(ChattyStep(calls))
    sinks: list[ProgressSink] = []
    buffer = io.StringIO()
    sink: CountingTerminalSink | None = None
    if with_sink:
        console = Console(file=buffer, force_terminal=True, width=100)
        sink = CountingTerminalSink(console=console)
        sinks.append(sink)
    runtime = RuntimeContext(sinks=sinks)
    orchestrator = Orchestrator(registry, BaseStepContext(runtime_ctx=runtime))

    gc.collect()
    gc.disable()
    try:
        start = perf_counter()
        result = orchestrator.execute()
        run_seconds = perf_counter() - start
        start = perf_counter()
        runtime.close()
        close_seconds = perf_counter() - start
    finally:
        gc.enable()
    assert result["success"], result
    return {
        "run_seconds": run_seconds,
        "close_seconds": close_seconds,
        "progress_events_to_sink": sink.progress_events if sink else 0,
        "terminal_chars_written": len(buffer.getvalue()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    one_run(args.calls // 10, with_sink=True)  # warm-up: imports, rich's first draw
    runs: dict[str, list[dict[str, float]]] = {"terminal_sink": [], "no_sink": []}
    for index in range(args.rounds):
        order = [True, False] if index % 2 == 0 else [False, True]
        for with_sink in order:
            runs["terminal_sink" if with_sink else "no_sink"].append(one_run(args.calls, with_sink))

    def describe(samples: list[dict[str, float]], with_sink: bool) -> dict[str, object]:
        run = [s["run_seconds"] for s in samples]
        described: dict[str, object] = {
            "run_seconds": summary(run),
            "ns_per_call": summary([s / args.calls * 1e9 for s in run], 1),
        }
        if with_sink:
            described["close_seconds"] = summary([s["close_seconds"] for s in samples])
            described["progress_events_to_sink"] = samples[-1]["progress_events_to_sink"]
            described["terminal_chars_written"] = samples[-1]["terminal_chars_written"]
        return described

    sink_runs = [s["run_seconds"] for s in runs["terminal_sink"]]
    emit(
        {
            "benchmark": "set_progress_throughput",
            "description": (
                f"{args.calls:,} context.set_progress calls inside one orchestrated step; "
                "seconds for Orchestrator.execute()"
            ),
            "machine": machine(),
            "calls": args.calls,
            "rounds": args.rounds,
            "terminal_sink": describe(runs["terminal_sink"], True),
            "no_sink": describe(runs["no_sink"], False),
            "target_seconds": TARGET_SECONDS,
            "target_statistic": "terminal_sink.run_seconds.min",
            "target_met": min(sink_runs) < TARGET_SECONDS,
            "target_met_on_median": statistics.median(sink_runs) < TARGET_SECONDS,
        }
    )


if __name__ == "__main__":
    main()
