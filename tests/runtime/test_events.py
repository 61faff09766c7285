"""The event records sinks receive: immutable, compared by value, copied with ``_replace``."""

from __future__ import annotations

import json
import pickle

import pytest

from synapse_sdk.runtime import LogEvent, MetricsEvent, ProgressEvent, StepEvent
from synapse_sdk.runtime.events import dumps

EVENTS = [
    ProgressEvent(40, "train", 2, 5),
    LogEvent("connecting", "warning", "upload", {"host": "s3"}),
    LogEvent("started"),
    MetricsEvent({"loss": 0.5}, "train"),
    StepEvent("upload", "rolled_back", None, True),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.kind)
def test_an_event_cannot_be_changed_in_place(event: object) -> None:
    with pytest.raises(AttributeError):
        event.step = "other"  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        event.note = "anything"  # type: ignore[attr-defined]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.kind)
def test_replace_gives_a_changed_copy_of_the_same_kind(event: ProgressEvent) -> None:
    changed = event._replace(step="export > coco")

    assert type(changed) is type(event)
    assert changed.step == "export > coco"
    assert changed.to_dict() == {**event.to_dict(), "step": "export > coco"}
    assert event.step != changed.step


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.kind)
def test_an_event_survives_pickling_as_itself(event: object) -> None:
    # Events cross process boundaries (a Ray worker sends them to the caller).
    copy = pickle.loads(pickle.dumps(event))

    assert type(copy) is type(event)
    assert copy == event


def test_kind_is_a_class_attribute_and_names_the_json_shape() -> None:
    kinds = {type(event): event.to_dict()["event"] for event in EVENTS}

    assert kinds == {
        ProgressEvent: ProgressEvent.kind,
        LogEvent: LogEvent.kind,
        MetricsEvent: MetricsEvent.kind,
        StepEvent: StepEvent.kind,
    }
    assert sorted(kinds.values()) == ["log", "metrics", "progress", "step"]


def test_each_log_event_without_data_has_its_own_empty_dict() -> None:
    first, second = LogEvent("started"), LogEvent("stopped")

    first.data["leak"] = 1

    assert second.data == {}
    assert LogEvent("again").to_dict()["data"] == {}
    assert json.loads(dumps(second.to_dict()))["data"] == {}
