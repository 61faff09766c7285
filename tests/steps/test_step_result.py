"""StepResult: its fields, their defaults and its UTC timestamp."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime, timedelta

import pydantic

from synapse_sdk.plugins.steps import StepResult


def test_fields_in_order() -> None:
    names = [f.name for f in dataclasses.fields(StepResult)]
    assert names == ["success", "data", "error", "rollback_data", "skipped", "timestamp"]


def test_defaults() -> None:
    result = StepResult(success=True)
    assert result.success is True
    assert result.data == {}
    assert result.error is None
    assert result.rollback_data == {}
    assert result.skipped is False


def test_success_is_required() -> None:
    assert dataclasses.fields(StepResult)[0].default is dataclasses.MISSING


def test_no_shared_mutable_defaults() -> None:
    first, second = StepResult(success=True), StepResult(success=True)
    first.data["a"] = 1
    first.rollback_data["b"] = 2
    assert second.data == {}
    assert second.rollback_data == {}
    assert first.data is not second.data
    assert first.rollback_data is not second.rollback_data


def test_timestamp_is_timezone_aware_utc_and_current() -> None:
    before = datetime.now(UTC)
    result = StepResult(success=False, error="boom")
    after = datetime.now(UTC)
    assert result.timestamp.tzinfo is not None
    assert result.timestamp.utcoffset() == timedelta(0)
    assert before <= result.timestamp <= after


def test_every_field_can_be_given() -> None:
    stamp = datetime(2024, 1, 2, tzinfo=UTC)
    result = StepResult(
        success=False,
        data={"x": 1},
        error="bad",
        rollback_data={"path": "/tmp/x"},
        skipped=True,
        timestamp=stamp,
    )
    assert (result.data, result.error, result.rollback_data, result.skipped) == (
        {"x": 1},
        "bad",
        {"path": "/tmp/x"},
        True,
    )
    assert result.timestamp is stamp


def test_its_type_hints_resolve_for_introspection_and_pydantic() -> None:
    # Annotations are strings here; each must name something StepResult's module imports,
    # or get_type_hints and pydantic (a model defined in a function, too) cannot read them.
    hints = typing.get_type_hints(StepResult)

    class Report(pydantic.BaseModel):
        result: StepResult

    report = Report(result=StepResult(success=True, data={"n": 1}))

    assert hints["timestamp"] is datetime
    assert report.model_dump()["result"]["data"] == {"n": 1}
    assert report.model_dump()["result"]["timestamp"].tzinfo is not None
