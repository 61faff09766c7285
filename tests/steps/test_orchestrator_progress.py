"""Weighted progress: what the progress callback and the progress sinks receive."""

from __future__ import annotations

import pytest
from steps.helpers import Step, make_context, run

from synapse_sdk.runtime import CallbackSink, Event, ProgressEvent


def percents(progress: list[tuple[int, int]]) -> list[int]:
    assert {total for _, total in progress} <= {100}
    return [current for current, _ in progress]


def test_seed_weights_report_20_90_100() -> None:
    progress: list[tuple[int, int]] = []
    run(Step("load", 0.2), Step("process", 0.7), Step("finalize", 0.1), progress=progress)
    assert progress == [(20, 100), (90, 100), (100, 100)]


def test_set_progress_moves_inside_the_step_band() -> None:
    progress: list[tuple[int, int]] = []
    middle = Step("middle", 0.5, during=lambda ctx: ctx.set_progress(50, 100))
    run(Step("first", 0.25), middle, Step("last", 0.25), progress=progress)
    assert percents(progress) == [25, 50, 75, 100]


def test_set_progress_through_a_whole_band() -> None:
    progress: list[tuple[int, int]] = []

    def work(ctx: object) -> None:
        for done in range(11):
            ctx.set_progress(done, 10)  # type: ignore[attr-defined]

    run(Step("a", 1), Step("b", 1, during=work), progress=progress)
    assert percents(progress) == [50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100, 100]


def test_all_zero_weights_count_equally() -> None:
    progress: list[tuple[int, int]] = []
    run(*(Step(name, 0) for name in "abcd"), progress=progress)
    assert percents(progress) == [25, 50, 75, 100]


def test_weights_need_not_sum_to_one() -> None:
    progress: list[tuple[int, int]] = []
    run(Step("a", 2), Step("b", 6), Step("c", 2), progress=progress)
    assert percents(progress) == [20, 80, 100]


def test_zero_weight_steps_among_weighted_ones() -> None:
    progress: list[tuple[int, int]] = []
    run(Step("a", 0), Step("b", 3), Step("c", 0), Step("d", 1), progress=progress)
    assert percents(progress) == [0, 75, 75, 100]


def test_each_step_reports_round_of_100_times_cumulative_over_total() -> None:
    # 100 * 23 / 40 is 57.5, which rounds to 58; 23 / 40 in floating point is just below
    # 0.575, so computing the fraction first would wrongly report 57.
    progress: list[tuple[int, int]] = []
    run(*(Step(f"s{i}", 1) for i in range(40)), progress=progress)
    assert percents(progress) == [round(100 * done / 40) for done in range(1, 41)]


def test_never_goes_backwards_and_ends_at_100() -> None:
    progress: list[tuple[int, int]] = []

    def jumpy(ctx: object) -> None:
        for current in (90, 10, 50, 100, 0, 200, -5):
            ctx.set_progress(current, 100)  # type: ignore[attr-defined]

    run(Step("a", 1, during=jumpy), Step("b", 3, during=jumpy), Step("c", 1), progress=progress)
    values = percents(progress)
    assert values == sorted(values)
    assert all(0 <= value <= 100 for value in values)
    assert values[-1] == 100


@pytest.mark.parametrize(("current", "total"), [(1, 0), (1, -1), (float("nan"), 10)])
def test_meaningless_step_progress_is_ignored(current: float, total: float) -> None:
    progress: list[tuple[int, int]] = []
    run(Step("a", during=lambda ctx: ctx.set_progress(current, total)), progress=progress)
    assert percents(progress) == [100]


def test_empty_registry_reports_100_once() -> None:
    progress: list[tuple[int, int]] = []
    result, _ = run(progress=progress)
    assert result == {"success": True, "steps_executed": 0, "steps_total": 0}
    assert progress == [(100, 100)]


def test_empty_registry_reports_100_to_sinks() -> None:
    events: list[Event] = []
    run(context=make_context(sinks=[CallbackSink(events.append, kinds={"progress"})]))
    assert [e.percent for e in events if isinstance(e, ProgressEvent)] == [100]


def test_sinks_receive_the_same_percentages_as_the_callback() -> None:
    progress: list[tuple[int, int]] = []
    events: list[Event] = []
    context = make_context(sinks=[CallbackSink(events.append, kinds={"progress"})])
    middle = Step("middle", 0.5, during=lambda ctx: ctx.set_progress(50, 100))
    run(Step("first", 0.25), middle, Step("last", 0.25), context=context, progress=progress)

    assert all(isinstance(e, ProgressEvent) for e in events)
    assert [e.percent for e in events if isinstance(e, ProgressEvent)] == percents(progress)
    assert percents(progress) == [25, 50, 75, 100]


def test_sinks_are_told_which_step_finished() -> None:
    events: list[Event] = []
    context = make_context(sinks=[CallbackSink(events.append, kinds={"progress"})])
    run(Step("load", 0.2), Step("process", 0.7), Step("finalize", 0.1), context=context)
    steps = [(e.percent, e.step) for e in events if isinstance(e, ProgressEvent)]
    assert steps == [(20, "load"), (90, "process"), (100, "finalize")]


def test_skipped_steps_advance_progress_too() -> None:
    progress: list[tuple[int, int]] = []
    run(Step("a", 1, skip=True), Step("b", 1), Step("c", 2, skip=True), progress=progress)
    assert percents(progress) == [25, 50, 100]


def test_huge_finite_weights_still_normalise() -> None:
    progress: list[tuple[int, int]] = []
    run(Step("a", 1e308), Step("b", 1e308), Step("c", 1e308), progress=progress)
    assert percents(progress) == [33, 67, 100]


def test_a_step_end_never_reports_less_than_the_step_already_did() -> None:
    # With these weights the third band ends at 57.49999999999999 (reported as 57), but
    # set_progress(1, 1) inside it lands on 57.5 (reported as 58) through float rounding.
    progress: list[tuple[int, int]] = []
    done = Step("c", 0.7, during=lambda ctx: ctx.set_progress(1, 1))
    run(Step("a", 0.3), Step("b", 0.15), done, Step("d", 0.85), progress=progress)
    values = percents(progress)
    assert 58 in values
    assert values == sorted(values)
    assert values[-1] == 100


def test_progress_spans_place_each_phase_in_its_part_of_the_band() -> None:
    progress: list[tuple[int, int]] = []

    def phases(ctx: object) -> None:
        with ctx.progress_span(0.0, 0.2):  # type: ignore[attr-defined]
            ctx.set_progress(1, 2)  # type: ignore[attr-defined]  # 10% of the band
            ctx.set_progress(2, 2)  # type: ignore[attr-defined]  # 20%
        with ctx.progress_span(0.2, 1.0):  # type: ignore[attr-defined]
            with ctx.progress_span(0.5, 1.0):  # type: ignore[attr-defined]  # 60%..100%
                ctx.set_progress(0, 4)  # type: ignore[attr-defined]  # 60%
            ctx.set_progress(3, 4)  # type: ignore[attr-defined]  # back in 20..100: 80%
        ctx.set_progress(0, 1)  # type: ignore[attr-defined]  # outside: never goes back

    run(Step("a", 1), Step("b", 1, during=phases), progress=progress)
    assert percents(progress) == [50, 55, 60, 80, 90, 100]


@pytest.mark.parametrize(("start", "end"), [(-0.1, 0.5), (0.6, 0.5), (0.0, 1.5)])
def test_a_progress_span_outside_zero_to_one_is_refused(start: float, end: float) -> None:
    def bad(ctx: object) -> None:
        with ctx.progress_span(start, end):  # type: ignore[attr-defined]
            pass

    with pytest.raises(Exception, match="need 0 <= start <= end <= 1"):
        run(Step("a", 1, during=bad))
