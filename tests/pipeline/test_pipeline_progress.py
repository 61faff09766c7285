"""One progress bar across a pipeline: bands from step weights, never going back."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from synapse_sdk.pipeline.progress import PipelineProgress, bands
from synapse_sdk.runtime.events import LogEvent, ProgressEvent, StepEvent
from synapse_sdk.runtime.sinks import CallbackSink

WEIGHTS = st.lists(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=8,
)


@given(WEIGHTS)
def test_bands_tile_0_to_100_in_proportion_to_the_weights(weights: list[float]) -> None:
    found = bands(weights)
    assert found[0][0] == 0.0
    assert found[-1][1] == 100.0
    assert all(low <= high for low, high in found)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(found))
    total = sum(weights)
    if total > 0:
        for (low, high), weight in zip(found, weights, strict=True):
            assert abs((high - low) - 100 * weight / total) < 1e-6


@given(
    WEIGHTS.flatmap(
        lambda weights: st.tuples(
            st.just(weights),
            st.lists(
                st.lists(st.integers(0, 100), max_size=12).map(sorted),
                min_size=len(weights),
                max_size=len(weights),
            ),
        )
    )
)
def test_the_overall_figure_only_rises_and_stays_in_the_running_actions_band(
    case: tuple[list[float], list[list[int]]],
) -> None:
    weights, reports = case
    seen: list[Any] = []
    progress = PipelineProgress([CallbackSink(seen.append)])
    for index, ((low, high), percents) in enumerate(zip(bands(weights), reports, strict=True)):
        band = progress.band(f"a{index}", low, high)
        before = len(seen)
        for percent in [*percents, 100]:  # each action ends at 100 of its own
            band.emit(ProgressEvent(percent, "step"))
        for event in seen[before:]:
            assert round(low) <= event.percent <= round(high)
            assert event.step == f"a{index} \u203a step"
    percents = [event.percent for event in seen]
    assert percents == sorted(set(percents))
    assert percents[-1] == 100


def test_step_and_log_events_are_named_with_their_action() -> None:
    seen: list[Any] = []
    band = PipelineProgress([CallbackSink(seen.append)]).band("train", 20, 80)

    band.emit(StepEvent("fit", "succeeded"))
    band.emit(LogEvent("run_started"))
    band.close()  # the pipeline's sinks outlive each action

    assert [(e.step, type(e).__name__) for e in seen] == [
        ("train \u203a fit", "StepEvent"),
        ("train", "LogEvent"),
    ]
