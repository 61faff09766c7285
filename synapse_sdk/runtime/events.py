"""The events a :class:`~synapse_sdk.plugins.RuntimeContext` hands to its sinks.

Events are small immutable records: named tuples (each event class adds ``kind`` and
``to_dict()`` to a tuple of its fields), the cheapest immutable record the standard library
has; four frozen dataclasses cost a quarter of the engine's own import time. Read them by
field name; ``event._replace(percent=50)`` gives a changed copy. ``to_dict()`` gives the
JSON shape used by the JSON-lines sink and ``synapse run --json``: every dict has an
``event`` key naming its kind, the class attribute ``kind``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, NamedTuple

from synapse_sdk.runtime.redacted import REDACTED

__all__ = [
    "Event",
    "ProgressEvent",
    "LogEvent",
    "MetricsEvent",
    "StepEvent",
    "StepStatus",
    "REDACTED",
    "to_jsonable",
    "dumps",
    "utf8_safe",
]


StepStatus = Literal["started", "succeeded", "skipped", "failed", "rolled_back", "rollback_failed"]
"""The states of a step: ``started`` while it runs; then ``succeeded``, ``skipped`` or
``failed``; a step that is undone ends ``rolled_back`` or, if its rollback raised,
``rollback_failed``."""


class _ProgressFields(NamedTuple):
    percent: int
    step: str | None = None
    current: float | None = None
    total: float | None = None


class ProgressEvent(_ProgressFields):
    """Overall progress changed.

    ``percent`` is the overall figure (0-100). Inside an orchestrated run it is the weighted
    overall percentage; ``current``/``total`` are the step-local numbers that caused it, when
    a step reported them through ``set_progress``.
    """

    __slots__ = ()
    kind: ClassVar[str] = "progress"

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "percent": self.percent,
            "step": self.step,
            "current": self.current,
            "total": self.total,
        }


class _LogFields(NamedTuple):
    message: str
    level: str
    step: str | None
    data: dict[str, Any]


class LogEvent(_LogFields):
    """A log line: ``message`` is the structlog event name, ``data`` its key/values."""

    __slots__ = ()
    kind: ClassVar[str] = "log"

    def __new__(
        cls,
        message: str,
        level: str = "info",
        step: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> LogEvent:
        # A named tuple's default is one object shared by every instance: an empty ``data``
        # is made here, one per event, so that no sink can fill another event's.
        return super().__new__(cls, message, level, step, {} if data is None else data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "level": self.level,
            "message": self.message,
            "step": self.step,
            "data": self.data,
        }


class _MetricsFields(NamedTuple):
    values: dict[str, Any]
    step: str | None = None


class MetricsEvent(_MetricsFields):
    """Metric values (loss, accuracy, throughput...) reported by a step."""

    __slots__ = ()
    kind: ClassVar[str] = "metrics"

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "step": self.step, "values": self.values}


class _StepFields(NamedTuple):
    step: str
    status: StepStatus
    error: str | None = None
    undone: bool | None = None


class StepEvent(_StepFields):
    """A step changed state: started, succeeded, skipped, failed, rolled back.

    ``undone`` is set on ``rolled_back`` events: False when the step had nothing to undo
    (no rollback of its own, nothing the SDK undoes for it, such as ``context.storage``
    writes), so that a screen does not claim something was rolled back.
    """

    __slots__ = ()
    kind: ClassVar[str] = "step"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": self.kind,
            "step": self.step,
            "status": self.status,
            "error": self.error,
        }
        if self.undone is not None:
            data["undone"] = self.undone
        return data


Event = ProgressEvent | LogEvent | MetricsEvent | StepEvent


def to_jsonable(value: Any) -> Any:
    """``json.dumps`` fallback: secrets become :data:`REDACTED`, other objects a readable form."""
    from datetime import date, datetime
    from enum import Enum
    from pathlib import PurePath

    if hasattr(value, "get_secret_value"):  # pydantic SecretStr / SecretBytes
        return REDACTED
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "model_dump"):  # a pydantic model: walked, its serializers not trusted
        # pydantic is loaded already (value is a model); the encoder itself never loads it.
        from synapse_sdk.runtime.secrets import redact

        return redact(value)
    return repr(value)


def utf8_safe(text: str) -> str:
    """``text`` as valid UTF-8: a file name that is not (surrogate escapes) is backslashed.

    In a JSON string the escape reads back as the same name (``\\udcff``); in plain text
    it shows what the bytes were.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def dumps(payload: Any) -> str:
    """Serialise ``payload`` to one line of JSON, redacting secrets.

    The line is always valid UTF-8: a file name that is not (held as surrogate escapes,
    ``"bad\\udcff.txt"``) is written as a JSON ``\\udcff`` escape, which reads back as the
    same string.
    """
    import json  # deferred: only sinks that write JSON pay for it

    return utf8_safe(json.dumps(payload, default=to_jsonable, ensure_ascii=False))
