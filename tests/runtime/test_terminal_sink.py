"""TerminalSink: a live rich bar, with log lines printed above it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rich.console import Console
from structlog.testing import capture_logs

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)
from synapse_sdk.runtime import ProgressSink, TerminalSink


@pytest.fixture
def screen() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def sink(screen: io.StringIO) -> Iterator[TerminalSink]:
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    sink = TerminalSink(console=console, title="demo")
    try:
        yield sink
    finally:
        sink.close()


def test_is_a_progress_sink(sink: TerminalSink) -> None:
    assert isinstance(sink, ProgressSink)


def test_draws_a_bar_that_reaches_100(sink: TerminalSink, screen: io.StringIO) -> None:
    runtime = RuntimeContext(sinks=[sink])
    runtime.set_progress(1, 4, step="load")
    runtime.set_progress(4, 4, step="load")
    sink.close()

    # Redraws are throttled, so intermediate figures may never be drawn; the last one is.
    last_frame = screen.getvalue().split("\r")[-1]
    assert "demo" in last_frame
    assert "━" * 10 in last_frame
    assert "100%" in last_frame


def test_prints_logs_and_metrics_as_written(sink: TerminalSink, screen: io.StringIO) -> None:
    runtime = RuntimeContext(sinks=[sink])
    with capture_logs():
        runtime.log("uploaded [bold]files[/bold]", {"count": 3}, step="upload")
        runtime.log("too quiet", level="debug")
    runtime.set_metrics({"loss": 0.25}, step="train")
    sink.close()

    output = screen.getvalue()
    assert "upload uploaded [bold]files[/bold] count=3" in output
    assert "too quiet" not in output
    assert "metrics train loss=0.25" in output


def test_shows_a_failed_run(sink: TerminalSink, screen: io.StringIO) -> None:
    @dataclass
    class Context(BaseStepContext):
        pass

    class Step(BaseStep[Context]):
        def __init__(self, name: str, error: str | None = None) -> None:
            self._name, self._error = name, error

        @property
        def name(self) -> str:
            return self._name

        @property
        def progress_weight(self) -> float:
            return 1.0

        def execute(self, context: Context) -> StepResult:
            context.set_progress(1, 2)
            return StepResult(success=self._error is None, error=self._error)

    registry = StepRegistry[Context]()
    registry.register(Step("load"))
    registry.register(Step("upload", error="bucket missing"))
    context = Context(runtime_ctx=RuntimeContext(sinks=[sink]))
    with capture_logs(), pytest.raises(StepExecutionError):
        Orchestrator(registry, context).execute()
    sink.close()

    output = screen.getvalue()
    assert "upload failed: bucket missing" in output
    assert "load: nothing to undo" in output  # no rollback, nothing the SDK undoes
    assert "load rolled back" not in output
    assert "━" in output


def test_close_is_safe_twice_and_without_any_event(screen: io.StringIO) -> None:
    sink = TerminalSink(console=Console(file=screen, force_terminal=True))
    sink.close()
    sink.close()
    assert screen.getvalue() == ""
