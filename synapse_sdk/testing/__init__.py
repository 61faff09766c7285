"""Helpers for testing plugins: a recording sink, an in-process runner, a crash harness.

The pytest plugin in :mod:`synapse_sdk.testing.pytest_plugin` (registered through the
``pytest11`` entry point, so it is active wherever synapse-sdk is installed) wraps these
as fixtures: ``synapse_recorder``, ``synapse_ctx``, ``synapse_host`` and ``synapse_run``.
:func:`crash_after_step` kills a real run after a step, for testing its recovery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.events import (
    Event,
    LogEvent,
    MetricsEvent,
    ProgressEvent,
    StepEvent,
)
from synapse_sdk.testing.crash import CrashedRun, crash_after_step

__all__ = ["CrashedRun", "RecordingSink", "crash_after_step", "recording_context"]


@dataclass
class RecordingSink:
    """A progress sink that keeps every event, with views for assertions.

    >>> sink = RecordingSink()
    >>> ctx = RuntimeContext(sinks=[sink])
    >>> ctx.set_progress(1, 2)
    >>> sink.percents
    [50]
    """

    events: list[Event] = field(default_factory=list)
    closed: bool = False

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True

    @property
    def percents(self) -> list[int]:
        """Every overall percentage reported, in order."""
        return [event.percent for event in self.events if isinstance(event, ProgressEvent)]

    @property
    def logs(self) -> list[LogEvent]:
        return [event for event in self.events if isinstance(event, LogEvent)]

    @property
    def messages(self) -> list[str]:
        """The message (structlog event name) of every log event."""
        return [event.message for event in self.logs]

    @property
    def metrics(self) -> list[MetricsEvent]:
        return [event for event in self.events if isinstance(event, MetricsEvent)]

    @property
    def steps(self) -> list[tuple[str, str]]:
        """``(step, status)`` for every step event: started, succeeded, rolled_back..."""
        return [(event.step, event.status) for event in self.events if isinstance(event, StepEvent)]

    def clear(self) -> None:
        self.events.clear()


def recording_context(
    *, env: Mapping[str, str] | None = None, job_id: str | None = "test"
) -> tuple[RuntimeContext, RecordingSink]:
    """A runtime context whose only sink records everything."""
    sink = RecordingSink()
    return RuntimeContext(sinks=[sink], env=env, job_id=job_id), sink
