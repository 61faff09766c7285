"""Progress sinks: where a run's progress, logs, metrics and step events go.

A sink is anything with ``emit(event)`` and ``close()`` (:class:`ProgressSink`). The runtime
context de-duplicates progress before it reaches sinks (only changes of the integer
percentage, or of the step, are emitted), so a sink sees at most about a hundred progress
events per step however often a step reports. A sink that raises is dropped from the
context for the rest of its life and the failure is logged; the run goes on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import IO, Protocol, runtime_checkable

from synapse_sdk.runtime.events import Event, dumps
from synapse_sdk.runtime.redacted import hide_option_secrets

__all__ = ["ProgressSink", "NullSink", "CallbackSink", "JsonLinesSink"]


@runtime_checkable
class ProgressSink(Protocol):
    """Receives the events of a run. Implement both methods to write your own sink."""

    def emit(self, event: Event) -> None:
        """Handle one event. Called on the thread that produced it; keep it quick."""

    def close(self) -> None:
        """Flush and release resources. Called once when the runtime context closes."""


class NullSink:
    """A sink that ignores everything (useful as a default or placeholder)."""

    def emit(self, event: Event) -> None:
        return None

    def close(self) -> None:
        return None


class CallbackSink:
    """Calls ``callback(event)`` for every event (optionally only for some kinds).

    >>> seen = []
    >>> sink = CallbackSink(seen.append, kinds={"progress"})
    """

    def __init__(
        self, callback: Callable[[Event], object], *, kinds: set[str] | None = None
    ) -> None:
        self.callback = callback
        self.kinds = frozenset(kinds) if kinds is not None else None

    def emit(self, event: Event) -> None:
        if self.kinds is None or event.kind in self.kinds:
            self.callback(event)

    def close(self) -> None:
        return None


class JsonLinesSink:
    """Writes one JSON object per event per line to a file path or an open text stream.

    Each line has an ``event`` key (``progress``, ``log``, ``metrics``, ``step``). Secrets
    are redacted. Lines are flushed as they are written so a reader can follow live.
    A path is opened for appending and closed by :meth:`close`; a stream is left open.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str]) -> None:
        if isinstance(target, str | os.PathLike):
            self._stream: IO[str] = open(target, "a", encoding="utf-8")  # noqa: SIM115
            self._owns_stream = True
        else:
            self._stream = target
            self._owns_stream = False
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        self._write_line(dumps(event.to_dict()))

    def write(self, payload: dict[str, object]) -> None:
        """Write an arbitrary JSON object as one line (used for the final result line).

        Secret-named values under a ``storage_options`` key are redacted, as in logs.
        """
        self._write_line(dumps(hide_option_secrets(payload)))

    def _write_line(self, text: str) -> None:
        line = text + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        if self._owns_stream:
            self._stream.close()
        else:
            self._stream.flush()
