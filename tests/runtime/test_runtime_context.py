"""RuntimeContext: construction, the structlog logger, and events reaching sinks."""

from __future__ import annotations

import os

import pytest
from structlog.testing import capture_logs

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.runtime import (
    CallbackSink,
    Event,
    LogEvent,
    MetricsEvent,
    NullSink,
    ProgressEvent,
    ProgressSink,
)


def recording_context(**kwargs: object) -> tuple[RuntimeContext, list[Event]]:
    events: list[Event] = []
    return RuntimeContext(sinks=[CallbackSink(events.append)], **kwargs), events  # type: ignore[arg-type]


def test_no_argument_construction() -> None:
    runtime = RuntimeContext()
    assert runtime.job_id is None
    assert runtime.sinks == []
    assert runtime.env == dict(os.environ)
    runtime.log("nothing_listens")
    runtime.set_progress(1, 2)
    runtime.set_metrics({"loss": 0.1})


def test_env_is_a_copy() -> None:
    given = {"TOKEN": "x"}
    runtime = RuntimeContext(env=given)
    given["TOKEN"] = "changed"
    assert runtime.env == {"TOKEN": "x"}


def test_logger_is_bound_with_the_job_id() -> None:
    with capture_logs() as logs:
        RuntimeContext(job_id="job-7").logger.info("direct")
        RuntimeContext(job_id="job-7").log("through_log", {"n": 1}, step="load")
    assert logs[0]["event"] == "direct"
    assert logs[0]["job_id"] == "job-7"
    assert logs[1] == {
        "event": "through_log",
        "log_level": "info",
        "job_id": "job-7",
        "step": "load",
        "n": 1,
    }


def test_log_levels_and_exceptions() -> None:
    error = ValueError("bad")
    with capture_logs() as logs:
        RuntimeContext().log("oops", level="warning", exc=error)
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["exc_info"] is error


def test_log_reaches_sinks() -> None:
    runtime, events = recording_context()
    with capture_logs():
        runtime.log("uploaded", {"files": 3}, step="upload", level="warning")
    assert events == [
        LogEvent(message="uploaded", level="warning", step="upload", data={"files": 3})
    ]


def test_log_with_an_exception_gives_sinks_its_text() -> None:
    runtime, events = recording_context()
    with capture_logs():
        runtime.log("failed", exc=OSError("disk full"))
    [event] = events
    assert isinstance(event, LogEvent)
    assert event.data == {"error": "OSError: disk full"}


def test_set_progress_reaches_sinks_as_a_percentage() -> None:
    runtime, events = recording_context()
    runtime.set_progress(1, 4, step="load")
    assert events == [ProgressEvent(percent=25, step="load", current=1, total=4)]


def test_set_progress_only_reports_changes() -> None:
    runtime, events = recording_context()
    for current in (1, 1, 1.001, 2, 2):
        runtime.set_progress(current, 4, step="load")
    runtime.set_progress(2, 4, step="other")
    assert [(e.percent, e.step) for e in events if isinstance(e, ProgressEvent)] == [
        (25, "load"),
        (50, "load"),
        (50, "other"),
    ]


@pytest.mark.parametrize(("current", "total", "percent"), [(5, 4, 100), (-1, 4, 0)])
def test_set_progress_is_clamped(current: float, total: float, percent: int) -> None:
    runtime, events = recording_context()
    runtime.set_progress(current, total)
    assert [e.percent for e in events if isinstance(e, ProgressEvent)] == [percent]


def test_set_progress_ignores_a_zero_total() -> None:
    runtime, events = recording_context()
    runtime.set_progress(1, 0)
    assert events == []


def test_set_metrics_reaches_sinks() -> None:
    runtime, events = recording_context()
    runtime.set_metrics({"epoch": 3, "accuracy": 0.94}, step="train")
    assert events == [MetricsEvent(values={"epoch": 3, "accuracy": 0.94}, step="train")]


def test_every_sink_receives_every_event() -> None:
    first: list[Event] = []
    second: list[Event] = []
    runtime = RuntimeContext(sinks=[CallbackSink(first.append)])
    runtime.add_sink(CallbackSink(second.append))
    runtime.set_metrics({"x": 1})
    assert first == second
    assert len(first) == 1


def test_callback_sink_filters_by_kind() -> None:
    runtime, _ = recording_context()
    progress_only: list[Event] = []
    runtime.add_sink(CallbackSink(progress_only.append, kinds={"progress"}))
    with capture_logs():
        runtime.log("hello")
    runtime.set_metrics({"x": 1})
    runtime.set_progress(1, 2)
    assert [event.kind for event in progress_only] == ["progress"]


def test_a_raising_sink_is_logged_and_dropped() -> None:
    class Broken:
        def emit(self, event: Event) -> None:
            raise RuntimeError("sink down")

        def close(self) -> None:
            return None

    runtime, events = recording_context()
    broken = Broken()
    runtime.sinks.insert(0, broken)
    with capture_logs() as logs:
        runtime.set_metrics({"a": 1})
        runtime.set_metrics({"b": 2})
    assert broken not in runtime.sinks
    assert len(events) == 2
    [entry] = [e for e in logs if e["event"] == "progress_sink_failed"]
    assert entry["error"] == "sink down"


def test_third_party_sinks_satisfy_the_protocol() -> None:
    class Mine:
        def emit(self, event: Event) -> None:
            return None

        def close(self) -> None:
            return None

    assert isinstance(Mine(), ProgressSink)
    assert isinstance(NullSink(), ProgressSink)
    assert isinstance(CallbackSink(print), ProgressSink)
    assert not isinstance(object(), ProgressSink)


def test_close_closes_every_sink() -> None:
    closed: list[str] = []

    class Closing:
        def __init__(self, name: str) -> None:
            self.name = name

        def emit(self, event: Event) -> None:
            return None

        def close(self) -> None:
            closed.append(self.name)

    RuntimeContext(sinks=[Closing("a"), NullSink(), Closing("b")]).close()
    assert closed == ["a", "b"]


def test_storage_options_secrets_in_logged_plain_data_are_redacted(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A step that logs its fsspec options (a plain dict) prints no credential anywhere."""
    import io

    from synapse_sdk.runtime import JsonLinesSink

    lines = io.StringIO()
    runtime = RuntimeContext(sinks=[JsonLinesSink(lines)])
    options = {
        "endpoint_url": "http://127.0.0.1:9000",
        "key": "AKIA-plain-key",
        "client_kwargs": {"aws_secret_access_key": "deep-secret", "region_name": "eu-west-1"},
    }
    runtime.log("connecting", {"storage_options": options, "targets": [{"key": "a/b.txt"}]})
    runtime.log("connected", {"attempts": [{"storage_options": {"token": "in-a-list"}}]})
    JsonLinesSink(lines).write({"result": {"storage_options": {"password": "at-the-end"}}})

    written = lines.getvalue() + capfd.readouterr().err
    for secret in ("AKIA-plain-key", "deep-secret", "in-a-list", "at-the-end"):
        assert secret not in written
    assert "http://127.0.0.1:9000" in written
    assert "eu-west-1" in written
    assert '"key": "a/b.txt"' in written  # an object key outside storage_options is kept
    assert options["key"] == "AKIA-plain-key"  # the caller's dict is not changed
