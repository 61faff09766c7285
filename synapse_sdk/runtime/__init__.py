"""Run-time services shared by every step: the runtime context, its events and sinks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.events import (
    Event,
    LogEvent,
    MetricsEvent,
    ProgressEvent,
    StepEvent,
)
from synapse_sdk.runtime.sinks import CallbackSink, JsonLinesSink, NullSink, ProgressSink

if TYPE_CHECKING:
    from synapse_sdk.runtime.terminal import TerminalSink

__all__ = [
    "RuntimeContext",
    "ProgressSink",
    "NullSink",
    "CallbackSink",
    "JsonLinesSink",
    "TerminalSink",
    "Event",
    "ProgressEvent",
    "LogEvent",
    "MetricsEvent",
    "StepEvent",
]


def __getattr__(name: str) -> Any:
    if name == "TerminalSink":  # imports rich: only on demand
        from synapse_sdk.runtime.terminal import TerminalSink

        return TerminalSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
