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

if TYPE_CHECKING:
    from synapse_sdk.runtime.sinks import CallbackSink, JsonLinesSink, NullSink, ProgressSink
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


# Loaded on first access: the terminal sink imports rich, and the other sinks (with
# ``threading``) are not needed by ``import synapse_sdk.plugins.steps``.
_ON_FIRST_USE = {
    "TerminalSink": "synapse_sdk.runtime.terminal",
    **dict.fromkeys(
        ("CallbackSink", "JsonLinesSink", "NullSink", "ProgressSink"), "synapse_sdk.runtime.sinks"
    ),
}


def __getattr__(name: str) -> Any:
    # The loader (and importlib with it) is itself loaded on first use, as in ``synapse_sdk``.
    from synapse_sdk.lazy import load_on_first_use

    return load_on_first_use(__name__, name, _ON_FIRST_USE, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
