"""The terminal sink: a live rich progress bar with log lines printed above it.

Kept apart from the other sinks because importing rich costs tens of milliseconds; this
module is only imported when a terminal sink is created.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from synapse_sdk.runtime.events import (
    Event,
    LogEvent,
    MetricsEvent,
    ProgressEvent,
    StepEvent,
)

__all__ = ["TerminalSink"]


_LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}
_SHOWN_AS_STEP_EVENTS = frozenset({"step_failed", "rollback_failed"})
_LEVEL_ORDER = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class TerminalSink:
    """Draws a live progress bar (with rich) and prints log lines above it.

    Redraws are throttled: rich refreshes the bar from a background thread at most
    ``refresh_per_second`` times a second, and updates between refreshes only change a
    number. Logs below ``min_level`` are not shown, metrics only with ``show_metrics``.
    A step that had nothing to undo (its ``rolled_back`` event says ``undone=False``)
    gets a line saying so rather than one claiming something was rolled back. Writes to
    stderr by default so that stdout stays free for a command's result.
    """

    def __init__(
        self,
        *,
        console: Console | None = None,
        stream: IO[str] | None = None,
        refresh_per_second: float = 10.0,
        min_level: str = "info",
        title: str = "running",
        show_metrics: bool = True,
    ) -> None:
        self.console = console or Console(file=stream or sys.stderr)
        self._refresh = refresh_per_second
        self._min_level = _LEVEL_ORDER.get(min_level, 20)
        self._title = title
        self._show_metrics = show_metrics
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def _ensure_bar(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("[bold blue]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.console,
                refresh_per_second=self._refresh,
                transient=False,
            )
            self._task = self._progress.add_task(self._title, total=100)
            self._progress.start()
        return self._progress

    def emit(self, event: Event) -> None:
        if isinstance(event, ProgressEvent):
            self._update(completed=event.percent)
        elif isinstance(event, StepEvent):
            self._step_changed(event)
        elif isinstance(event, LogEvent):
            if event.message in _SHOWN_AS_STEP_EVENTS:
                return
            if _LEVEL_ORDER.get(event.level, 20) >= self._min_level:
                self._print(self._log_line(event))
        elif isinstance(event, MetricsEvent) and self._show_metrics:
            values = " ".join(f"{key}={value}" for key, value in event.values.items())
            self._print(Text.assemble(("metrics ", "cyan"), f"{event.step or ''} {values}"))

    def _update(self, **fields: object) -> None:
        bar = self._ensure_bar()
        assert self._task is not None
        bar.update(self._task, **fields)  # type: ignore[arg-type]

    def _step_changed(self, event: StepEvent) -> None:
        if event.status == "started":
            self._update(description=f"{self._title}: {event.step}")
            return
        self._print(self._step_line(event))

    def _step_line(self, event: StepEvent) -> Text:
        step = event.step
        if event.status == "rolled_back" and event.undone is False:
            return Text(f"↺ {step}: nothing to undo", style="dim")
        lines = {
            "succeeded": Text(f"✓ {step}", style="green"),
            "skipped": Text(f"↷ {step} skipped", style="dim"),
            "failed": Text.assemble((f"✗ {step} failed", "bold red"), f": {event.error}"),
            "rolled_back": Text(f"↺ {step} rolled back", style="yellow"),
            "rollback_failed": Text.assemble(
                (f"✗ {step} rollback failed", "bold red"), f": {event.error}"
            ),
        }
        return lines[event.status]

    @staticmethod
    def _log_line(event: LogEvent) -> Text:
        # Text (not markup strings) so that brackets in user data are printed as they are.
        text = Text()
        if event.step:
            text.append(f"{event.step} ", style="dim")
        text.append(event.message, style=_LEVEL_STYLES.get(event.level, ""))
        if event.data:
            text.append(" " + " ".join(f"{k}={v}" for k, v in event.data.items()), style="dim")
        return text

    def _print(self, text: Text) -> None:
        console = self._progress.console if self._progress else self.console
        console.print(text, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            assert self._task is not None
            self._progress.update(self._task, description=self._title)
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
