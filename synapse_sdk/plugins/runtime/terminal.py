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

from synapse_sdk.plugins.runtime.events import (
    Event,
    LogEvent,
    MetricsEvent,
    ProgressEvent,
    StepEvent,
)

__all__ = ["TerminalSink"]


_LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}
_LEVEL_ORDER = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class TerminalSink:
    """Draws a live progress bar (with rich) and prints log lines above it.

    Redraws are throttled: rich refreshes the bar from a background thread at most
    ``refresh_per_second`` times a second, and updates between refreshes only change a
    number. Logs below ``min_level`` are not shown. Writes to stderr by default so that
    stdout stays free for a command's result.
    """

    def __init__(
        self,
        *,
        console: Console | None = None,
        stream: IO[str] | None = None,
        refresh_per_second: float = 10.0,
        min_level: str = "info",
        title: str = "running",
    ) -> None:
        self.console = console or Console(file=stream or sys.stderr)
        self._refresh = refresh_per_second
        self._min_level = _LEVEL_ORDER.get(min_level, 20)
        self._title = title
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
            bar = self._ensure_bar()
            assert self._task is not None
            description = event.step or self._title
            bar.update(self._task, completed=event.percent, description=description)
        elif isinstance(event, StepEvent):
            bar = self._ensure_bar()
            assert self._task is not None
            if event.status == "started":
                bar.update(self._task, description=event.step)
            elif event.status in ("failed", "rollback_failed"):
                label = "failed" if event.status == "failed" else "rollback failed"
                self._print(
                    Text.assemble((f"✗ {event.step} {label}", "bold red"), f": {event.error}")
                )
            elif event.status == "rolled_back":
                self._print(Text(f"↺ {event.step} rolled back", style="yellow"))
        elif isinstance(event, LogEvent):
            if _LEVEL_ORDER.get(event.level, 20) < self._min_level:
                return
            self._print(self._log_line(event))
        elif isinstance(event, MetricsEvent):
            values = " ".join(f"{k}={v}" for k, v in event.values.items())
            self._print(Text.assemble(("metrics ", "cyan"), f"{event.step or ''} {values}"))

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
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
