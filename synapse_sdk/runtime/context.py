"""RuntimeContext: what every step of a run shares (logger, progress sinks, env, job id)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from synapse_sdk.errors import describe_error
from synapse_sdk.runtime.events import (
    Event,
    LogEvent,
    MetricsEvent,
    ProgressEvent,
    StepEvent,
    StepStatus,
)
from synapse_sdk.runtime.redacted import hide_option_secrets

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from synapse_sdk.fanout.base import Executor
    from synapse_sdk.runtime.recorder import StepRecorder
    from synapse_sdk.runtime.settings import Settings
    from synapse_sdk.runtime.sinks import ProgressSink

__all__ = ["ProgressScope", "RuntimeContext", "quiet_logger"]


class ProgressScope(Protocol):
    """Where ``set_progress`` calls go while a run is in progress (the orchestrator's)."""

    def step_progress(self, current: float, total: float) -> None: ...


def quiet_logger() -> Any:
    """A structlog logger that renders nothing, for when the sinks already show every log."""
    import sys

    import structlog

    def drop(_logger: Any, _method: str, _event: Any) -> Any:
        raise structlog.DropEvent

    return structlog.wrap_logger(structlog.PrintLogger(sys.stderr), processors=[drop])


def _default_logger() -> Any:
    """The application's structlog logger if it configured structlog, else a safe default.

    structlog's own defaults print to stdout, in colour, with rich tracebacks that show
    local variables (secrets included). Unless the application configured structlog, the
    SDK logs plain lines to stderr at INFO and above, with plain tracebacks.
    """
    import logging
    import sys

    import structlog

    if structlog.is_configured():
        return structlog.get_logger("synapse_sdk")
    return structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S"),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )


class RuntimeContext:
    """The run-wide context handed (through a step context) to every step.

    It carries a structlog logger bound with the job id, a list of progress sinks, an env
    mapping, an optional job id and an optional ``recorder`` (the run journal, set by
    ``run_action``) that the orchestrator reports every step's state to.
    ``RuntimeContext()`` works with no arguments: the logger is then
    ``structlog.get_logger("synapse_sdk")`` if the application configured structlog, else
    plain lines on stderr (see ``_default_logger``); there are no sinks, and ``env`` is a
    copy of ``os.environ``. ``settings`` are what ``env`` says (read once, here), unless
    given: the journal's folder, which plugins load, the Ray cluster.

    Progress: outside an orchestrated run, ``set_progress(current, total)`` reports
    ``round(100 * current / total)``; inside one, the orchestrator maps it into the running
    step's weighted band. Either way sinks only see changes.

    structlog is imported on first use of the logger, not when this module is imported.
    """

    def __init__(
        self,
        *,
        logger: Any | None = None,
        sinks: Iterable[ProgressSink] = (),
        env: Mapping[str, str] | None = None,
        job_id: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.job_id = job_id
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        # Loaded with the first context, not with the step API (a frozen dataclass: ~0.5 ms).
        from synapse_sdk.runtime.settings import Settings

        self.settings = settings if settings is not None else Settings.from_env(self.env)
        self.sinks: list[ProgressSink] = list(sinks)
        self.recorder: StepRecorder | None = None
        self._executor: Executor | None = None
        self._logger = logger
        self._bound_logger: Any | None = None
        self._bound_job_id: str | None = None
        self._scope: ProgressScope | None = None
        self._last_percent = -1
        self._last_step: str | None = None

    # -- fan-out ---------------------------------------------------------------------------

    @property
    def executor(self) -> Executor:
        """Where ``context.map`` runs items: a thread pool unless the run is on Ray."""
        if self._executor is None:
            # concurrent.futures costs ~20 ms: loaded by the first map, not by the engine.
            from synapse_sdk.fanout.threads import ThreadExecutor

            self._executor = ThreadExecutor()
        return self._executor

    @executor.setter
    def executor(self, executor: Executor) -> None:
        self._executor = executor

    # -- logging ---------------------------------------------------------------------------

    @property
    def logger(self) -> FilteringBoundLogger:
        """The structlog logger, bound with ``job_id`` (rebound if the job id changes)."""
        if self._bound_logger is None or self._bound_job_id != self.job_id:
            if self._logger is None:
                self._logger = _default_logger()
            base = self._logger
            self._bound_logger = base.bind(job_id=self.job_id) if self.job_id else base
            self._bound_job_id = self.job_id
        logger: FilteringBoundLogger = self._bound_logger
        return logger

    def log(
        self,
        event: str,
        data: Mapping[str, Any] | None = None,
        *,
        step: str | None = None,
        level: str = "info",
        exc: BaseException | None = None,
    ) -> None:
        """Log ``event`` with ``data`` through the structlog logger and to every sink.

        ``step`` binds the step name; ``exc`` attaches an exception (and its traceback) to
        the log entry. Secret-named values under a ``storage_options`` key in ``data`` are
        redacted first (:func:`~synapse_sdk.runtime.redacted.hide_option_secrets`).
        """
        values = dict(hide_option_secrets(data)) if data else {}
        logger = self.logger.bind(step=step) if step is not None else self.logger
        if exc is not None:
            values["exc_info"] = exc
        getattr(logger, level)(event, **values)
        if self.sinks:
            values.pop("exc_info", None)
            if exc is not None:
                values["error"] = describe_error(exc)
            self.emit(LogEvent(message=event, level=level, step=step, data=values))

    # -- progress and metrics -------------------------------------------------------------

    def set_progress(self, current: float, total: float, step: str | None = None) -> None:
        """Report that ``current`` of ``total`` units of work are done."""
        scope = self._scope
        if scope is not None:
            scope.step_progress(current, total)
            return
        if total <= 0:
            return
        fraction = current / total
        if fraction != fraction:  # NaN: nothing meaningful to report
            return
        percent = round(100 * min(max(fraction, 0.0), 1.0))
        if percent != self._last_percent or step != self._last_step:
            self._last_percent = percent
            self._last_step = step
            if self.sinks:
                self.emit(ProgressEvent(percent, step, current, total))

    def set_metrics(self, values: Mapping[str, Any], step: str | None = None) -> None:
        """Report metric values (for example ``{'epoch': 3, 'accuracy': 0.94}``)."""
        if self.sinks:
            self.emit(MetricsEvent(values=dict(values), step=step))

    def report_progress(
        self, percent: int, step: str | None, current: float | None, total: float | None
    ) -> None:
        """Send an already computed overall percentage to the sinks (used by the orchestrator)."""
        if self.sinks:
            self.emit(ProgressEvent(percent, step, current, total))

    def report_step(
        self,
        step: str,
        status: StepStatus,
        error: str | None = None,
        *,
        undone: bool | None = None,
    ) -> None:
        """Tell the sinks that a step changed state (``undone``: see :class:`StepEvent`)."""
        if self.sinks:
            self.emit(StepEvent(step=step, status=status, error=error, undone=undone))

    @contextmanager
    def progress_scope(self, progress: ProgressScope) -> Iterator[ProgressScope]:
        """Route ``set_progress`` calls into ``progress`` for the duration of a run."""
        previous, self._scope = self._scope, progress
        try:
            yield progress
        finally:
            self._scope = previous

    # -- sinks ----------------------------------------------------------------------------

    def add_sink(self, sink: ProgressSink) -> None:
        self.sinks.append(sink)

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every sink; a sink that raises is logged and dropped."""
        for sink in tuple(self.sinks):
            try:
                sink.emit(event)
            except Exception as exc:
                self._drop_sink(sink, exc)

    def _drop_sink(self, sink: ProgressSink, exc: Exception) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)
        self.logger.error(
            "progress_sink_failed", sink=type(sink).__name__, error=str(exc), exc_info=exc
        )

    def close(self) -> None:
        """Close every sink (a sink whose ``close`` raises is logged and skipped)."""
        for sink in tuple(self.sinks):
            try:
                sink.close()
            except Exception as exc:
                self._drop_sink(sink, exc)
