"""Property-based tests: random step lists, weights, skip flags and failure points.

For every generated run: the rollback order, the progress invariants and the result
counts hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from steps.helpers import Step, make_context, make_registry

from synapse_sdk.errors import StepExecutionError
from synapse_sdk.plugins.steps import Orchestrator, StepResult
from synapse_sdk.runtime import CallbackSink, Event, ProgressEvent

# Dyadic and whole weights add up exactly in floating point, so the expected percentages
# below are exactly the documented round(100 * cumulative_weight / total_weight).
WEIGHTS = st.one_of(
    st.sampled_from([0.0, 0.0, 0.125, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0]),
    st.integers(min_value=0, max_value=1000).map(float),
)

FAILURES = [
    "success_false",
    "raises",
    "wrong_type",
    "can_skip_raises",
    "keyboard_interrupt",
    "system_exit",
]
INTERRUPTS = {"keyboard_interrupt", "system_exit"}


@dataclass(frozen=True)
class StepSpec:
    weight: float
    skip: bool
    rollback_raises: bool
    progress: tuple[int, ...]  # set_progress(k, 4) calls made inside the step


@dataclass(frozen=True)
class Plan:
    specs: list[StepSpec]
    failure: tuple[int, str] | None  # (index of the failing step, how it fails)


@st.composite
def plans(draw: st.DrawFn, with_step_progress: bool = True) -> Plan:
    specs = draw(
        st.lists(
            st.builds(
                StepSpec,
                weight=WEIGHTS,
                skip=st.booleans(),
                rollback_raises=st.booleans(),
                progress=(
                    st.lists(st.integers(-1, 5), max_size=4).map(tuple)
                    if with_step_progress
                    else st.just(())
                ),
            ),
            max_size=8,
        )
    )
    failure = None
    if specs and draw(st.booleans()):
        failure = (draw(st.integers(0, len(specs) - 1)), draw(st.sampled_from(FAILURES)))
    return Plan(specs, failure)


def build_step(index: int, spec: StepSpec, plan: Plan) -> tuple[Step, BaseException | None]:
    """The step for ``spec``; also the exception it fails with, if it raises one."""

    def report(ctx: object, calls: tuple[int, ...] = spec.progress) -> None:
        for current in calls:
            ctx.set_progress(current, 4)  # type: ignore[attr-defined]

    step = Step(
        f"s{index}",
        spec.weight,
        skip=spec.skip,
        rollback_raises=RuntimeError(f"undo s{index} failed") if spec.rollback_raises else None,
        during=report,
    )
    if plan.failure is None or plan.failure[0] != index:
        return step, None
    step.skip = False
    kind = plan.failure[1]
    error: BaseException | None = None
    if kind == "success_false":
        step.returns = StepResult(success=False, error=f"s{index} said no")
    elif kind == "wrong_type":
        step.returns = {"success": True}
    elif kind == "raises":
        error = step.raises = ValueError(f"s{index} blew up")
    elif kind == "can_skip_raises":
        error = step.skip_raises = OSError(f"s{index} cannot tell")
    elif kind == "keyboard_interrupt":
        error = step.raises = KeyboardInterrupt()
    else:
        error = step.raises = SystemExit(f"s{index} exits")
    return step, error


def expected_step_end_percents(weights: list[float], finished: int) -> list[int]:
    total = sum(weights)
    if total == 0:
        weights, total = [1.0] * len(weights), float(len(weights))
    return [round(100 * sum(weights[: i + 1]) / total) for i in range(finished)]


@dataclass
class Outcome:
    result: dict[str, object] | None
    raised: BaseException | None
    progress: list[int]
    sink_progress: list[int]


def execute(plan: Plan) -> tuple[Outcome, list[Step], BaseException | None, object]:
    built = [build_step(i, spec, plan) for i, spec in enumerate(plan.specs)]
    steps = [step for step, _ in built]
    failing_error = next((error for _, error in built if error is not None), None)
    events: list[Event] = []
    context = make_context(sinks=[CallbackSink(events.append, kinds={"progress"})])
    progress: list[tuple[int, int]] = []
    orchestrator = Orchestrator(
        make_registry(*steps), context, lambda current, total: progress.append((current, total))
    )
    result: dict[str, object] | None = None
    raised: BaseException | None = None
    try:
        result = dict(orchestrator.execute())
    except (StepExecutionError, KeyboardInterrupt, SystemExit) as exc:
        raised = exc
    assert {total for _, total in progress} <= {100}
    outcome = Outcome(
        result,
        raised,
        [current for current, _ in progress],
        [event.percent for event in events if isinstance(event, ProgressEvent)],
    )
    return outcome, steps, failing_error, context


@settings(max_examples=300, deadline=None)
@given(plans())
def test_rollback_order_and_result_counts(plan: Plan) -> None:
    outcome, _, failing_error, context = execute(plan)
    specs = plan.specs
    stop = plan.failure[0] if plan.failure else len(specs)
    ran = [i for i in range(stop) if not specs[i].skip]

    if plan.failure is None:
        assert outcome.raised is None
        assert outcome.result == {
            "success": True,
            "steps_executed": len(ran),
            "steps_total": len(specs),
        }
        assert len(context.step_results) == len(specs)
        assert [r.skipped for r in context.step_results] == [s.skip for s in specs]
        assert all(r.success for r in context.step_results)
        assert context.rolled_back == []
        assert context.errors == []
        assert context.executed == [f"s{i}" for i in ran]
        return

    failed_at, kind = plan.failure
    assert outcome.result is None
    if kind in INTERRUPTS:
        assert outcome.raised is failing_error
    else:
        error = outcome.raised
        assert isinstance(error, StepExecutionError)
        assert f"'s{failed_at}'" in str(error)
        assert error.__cause__ is failing_error

    expected_order = [failed_at, *reversed(ran)]
    assert [name for name, _ in context.rolled_back] == [f"s{i}" for i in expected_order]

    assert len(context.step_results) == stop + 1
    failed_result = context.step_results[-1]
    assert failed_result.success is False
    assert failed_result.error
    assert context.rolled_back[0][1] is failed_result
    for name, result in context.rolled_back[1:]:
        index = int(name[1:])
        assert result is context.step_results[index]
        assert result.data == {"step": name}
    for index in range(stop):
        assert context.step_results[index].skipped is specs[index].skip

    executed = [f"s{i}" for i in ran]
    if kind != "can_skip_raises":
        executed.append(f"s{failed_at}")
    assert context.executed == executed

    rollback_lines = [line for line in context.errors if line.startswith("rollback")]
    expected_rollback_failures = [i for i in expected_order if specs[i].rollback_raises]
    assert len(rollback_lines) == len(expected_rollback_failures)
    for line, index in zip(rollback_lines, expected_rollback_failures, strict=True):
        assert f"'s{index}'" in line
        assert f"undo s{index} failed" in line
    assert len(context.errors) == 1 + len(rollback_lines)
    assert context.current_step is None


@settings(max_examples=300, deadline=None)
@given(plans())
def test_progress_invariants(plan: Plan) -> None:
    outcome, *_ = execute(plan)
    values = outcome.progress

    assert values == sorted(values)
    assert all(0 <= value <= 100 for value in values)
    assert outcome.sink_progress == values
    if plan.failure is None:
        assert values
        assert values[-1] == 100
    else:  # nothing beyond the end of the failing step's band is ever claimed
        weights = [spec.weight for spec in plan.specs]
        band_end = expected_step_end_percents(weights, plan.failure[0] + 1)[-1]
        assert all(value <= band_end for value in values)


@settings(max_examples=300, deadline=None)
@given(plans(with_step_progress=False))
def test_step_end_percentages_follow_the_weights(plan: Plan) -> None:
    outcome, *_ = execute(plan)
    weights = [spec.weight for spec in plan.specs]
    if plan.failure is None:
        expected = expected_step_end_percents(weights, len(weights)) if weights else [100]
    else:
        expected = expected_step_end_percents(weights, plan.failure[0])
    assert outcome.progress == expected
