"""A million set_progress calls reach sinks as about a hundred progress events."""

from __future__ import annotations

import io
from dataclasses import dataclass

from rich.console import Console

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime import CallbackSink, Event, ProgressEvent, TerminalSink

CALLS = 1_000_000


@dataclass
class Context(BaseStepContext):
    pass


class Chatty(BaseStep[Context]):
    """Reports progress after every one of a million units of work."""

    @property
    def name(self) -> str:
        return "chatty"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Context) -> StepResult:
        for done in range(1, CALLS + 1):
            context.set_progress(done, CALLS)
        return StepResult(success=True)


def progress_percents(events: list[Event]) -> list[int]:
    return [event.percent for event in events if isinstance(event, ProgressEvent)]


def test_outside_a_run() -> None:
    events: list[Event] = []
    runtime = RuntimeContext(sinks=[CallbackSink(events.append, kinds={"progress"})])
    for done in range(1, CALLS + 1):
        runtime.set_progress(done, CALLS, step="chatty")

    percents = progress_percents(events)
    assert len(percents) <= 101
    assert percents == sorted(set(percents))
    assert percents[-1] == 100


def test_inside_one_step_with_the_terminal_sink_attached() -> None:
    events: list[Event] = []
    terminal = TerminalSink(console=Console(file=io.StringIO(), force_terminal=True))
    runtime = RuntimeContext(
        sinks=[terminal, CallbackSink(events.append, kinds={"progress"})],
    )
    registry = StepRegistry[Context]()
    registry.register(Chatty())
    progress: list[tuple[int, int]] = []
    try:
        Orchestrator(
            registry, Context(runtime_ctx=runtime), lambda c, t: progress.append((c, t))
        ).execute()
    finally:
        runtime.close()

    percents = progress_percents(events)
    assert len(percents) <= 102  # each percentage once, plus the end-of-step report
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert [current for current, _ in progress] == percents
