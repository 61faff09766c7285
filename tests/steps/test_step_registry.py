"""StepRegistry: ordering operations, queries, and errors raised at the offending call."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from steps.helpers import RecordingContext, Step

from synapse_sdk.plugins.steps import StepRegistry


@pytest.fixture
def registry() -> StepRegistry[RecordingContext]:
    registry = StepRegistry[RecordingContext]()
    for name, weight in [("a", 0.2), ("b", 0.7), ("c", 0.1)]:
        registry.register(Step(name, weight))
    return registry


def names(registry: StepRegistry[RecordingContext]) -> list[str]:
    return [step.name for step in registry.get_steps()]


def test_register_appends_in_order(registry: StepRegistry[RecordingContext]) -> None:
    assert names(registry) == ["a", "b", "c"]


def test_unregister_removes_and_returns_the_step(
    registry: StepRegistry[RecordingContext],
) -> None:
    b = registry.get_steps()[1]
    assert registry.unregister("b") is b
    assert names(registry) == ["a", "c"]


def test_insert_before_and_after(registry: StepRegistry[RecordingContext]) -> None:
    registry.insert_before("a", Step("first"))
    registry.insert_before("c", Step("before_c"))
    registry.insert_after("a", Step("after_a"))
    registry.insert_after("c", Step("last"))
    assert names(registry) == ["first", "a", "after_a", "b", "before_c", "c", "last"]


def test_get_steps_returns_a_copy(registry: StepRegistry[RecordingContext]) -> None:
    copy = registry.get_steps()
    copy.clear()
    assert len(registry) == 3
    assert registry.get_steps() is not registry.get_steps()


def test_len_iter_contains(registry: StepRegistry[RecordingContext]) -> None:
    assert len(registry) == 3
    assert [step.name for step in registry] == ["a", "b", "c"]
    assert "b" in registry
    assert "z" not in registry
    assert len(StepRegistry[RecordingContext]()) == 0


def test_iterating_while_changing_the_registry_is_safe(
    registry: StepRegistry[RecordingContext],
) -> None:
    for step in registry:
        registry.unregister(step.name)
    assert len(registry) == 0


def test_total_weight(registry: StepRegistry[RecordingContext]) -> None:
    assert registry.total_weight == pytest.approx(1.0)
    registry.register(Step("zero", 0))
    registry.register(Step("two", 2))
    assert registry.total_weight == pytest.approx(3.0)
    assert StepRegistry[RecordingContext]().total_weight == 0


# -- errors: raised at the call, registry left unchanged ----------------------------------

Mutation = Callable[[StepRegistry[RecordingContext]], object]

NOT_A_STEP: list[tuple[str, Mutation]] = [
    ("register an object", lambda r: r.register(object())),  # type: ignore[arg-type]
    ("register the class", lambda r: r.register(Step)),  # type: ignore[arg-type]
    ("register None", lambda r: r.register(None)),  # type: ignore[arg-type]
    ("insert_before a function", lambda r: r.insert_before("a", len)),  # type: ignore[arg-type]
    ("insert_after a string", lambda r: r.insert_after("a", "step")),  # type: ignore[arg-type]
]

BAD_VALUES: list[tuple[str, Mutation, str]] = [
    ("duplicate register", lambda r: r.register(Step("b")), "b"),
    ("duplicate insert_before", lambda r: r.insert_before("c", Step("a")), "a"),
    ("duplicate insert_after", lambda r: r.insert_after("a", Step("c")), "c"),
    ("unknown name to unregister", lambda r: r.unregister("nope"), "nope"),
    ("unknown anchor before", lambda r: r.insert_before("nope", Step("new")), "nope"),
    ("unknown anchor after", lambda r: r.insert_after("nope", Step("new")), "nope"),
    ("negative weight", lambda r: r.register(Step("neg", -0.1)), "neg"),
    ("NaN weight", lambda r: r.register(Step("nan", float("nan"))), "nan"),
    ("infinite weight", lambda r: r.register(Step("inf", float("inf"))), "inf"),
    ("-infinite weight", lambda r: r.insert_after("a", Step("ninf", float("-inf"))), "ninf"),
    ("NaN weight inserted", lambda r: r.insert_before("a", Step("n2", float("nan"))), "n2"),
]


@pytest.mark.parametrize(("case", "mutate"), NOT_A_STEP, ids=[c for c, _ in NOT_A_STEP])
def test_type_error_for_non_steps(
    registry: StepRegistry[RecordingContext], case: str, mutate: Mutation
) -> None:
    before = registry.get_steps()
    with pytest.raises(TypeError):
        mutate(registry)
    assert registry.get_steps() == before


def test_passing_the_class_hints_at_the_missing_parentheses(
    registry: StepRegistry[RecordingContext],
) -> None:
    with pytest.raises(TypeError, match=r"forgotten the \(\)"):
        registry.register(Step)  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "mutate", "named"), BAD_VALUES, ids=[c for c, _, _ in BAD_VALUES])
def test_value_error_names_the_problem(
    registry: StepRegistry[RecordingContext], case: str, mutate: Mutation, named: str
) -> None:
    before = registry.get_steps()
    with pytest.raises(ValueError, match=repr(named)):
        mutate(registry)
    assert registry.get_steps() == before
    assert registry.total_weight == pytest.approx(1.0)


def test_zero_weight_is_allowed(registry: StepRegistry[RecordingContext]) -> None:
    registry.register(Step("free", 0.0))
    assert "free" in registry


def test_total_weight_of_huge_finite_weights_is_infinite() -> None:
    registry = StepRegistry[RecordingContext]()
    registry.register(Step("a", 1e308))
    registry.register(Step("b", 1e308))
    assert registry.total_weight == float("inf")
