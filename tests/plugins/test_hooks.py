"""Hooks: plugins registered on a fresh host change steps, wrap them and observe runs."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest
from pydantic import BaseModel

from synapse_sdk.actions.base import ActionContext
from synapse_sdk.errors import PluginHookError, StepExecutionError
from synapse_sdk.plugins import BaseAction, PluginHost, hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult, StepWrapper, TimingStep


class Params(BaseModel):
    fail_at: str | None = None


class Step(BaseStep[ActionContext]):
    def __init__(self, name: str, journal: list[str]) -> None:
        self._name = name
        self.journal = journal

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: ActionContext) -> StepResult:
        self.journal.append(f"run:{self._name}")
        if context.params.fail_at == self._name:
            return StepResult(success=False, error="boom")
        return StepResult(success=True, rollback_data={"name": self._name})

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        self.journal.append(f"undo:{self._name}")


JOURNAL: list[str] = []


class Pipeline(BaseAction[Params]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(Step("load", JOURNAL))
        registry.register(Step("save", JOURNAL))


@pytest.fixture(autouse=True)
def _clear_journal() -> None:
    JOURNAL.clear()


def run(host: PluginHost, **params: Any) -> Any:
    return Pipeline(params, plugins=host).run()


class Wrapper(StepWrapper[Any]):
    def __init__(self, step: BaseStep[Any], label: str) -> None:
        super().__init__(step)
        self.prefix = f"{label}_"
        self.label = label

    def execute(self, context: Any) -> StepResult:
        JOURNAL.append(f"enter:{self.label}:{self.inner.name}")
        return self.inner.execute(context)


def test_setup_steps_can_insert_before_after_and_unregister(host: PluginHost) -> None:
    class Plugin:
        @hookimpl
        def synapse_setup_steps(self, registry: StepRegistry[Any]) -> None:
            registry.insert_before("save", Step("check", JOURNAL))
            registry.insert_after("save", Step("notify", JOURNAL))
            registry.register(Step("extra", JOURNAL))
            registry.unregister("extra")

    host.register(Plugin(), "reshaper")
    plan = Pipeline({}, plugins=host).plan()
    assert plan.names == ["load", "check", "save", "notify"]
    assert [step.contributed_by for step in plan.steps] == [
        "action",
        "reshaper",
        "action",
        "reshaper",
    ]
    assert run(host)["steps_executed"] == 4
    assert JOURNAL == ["run:load", "run:check", "run:save", "run:notify"]


def test_wrappers_compose_first_called_innermost_and_rollback_reaches_inner(
    host: PluginHost,
) -> None:
    class Outer:
        @hookimpl(trylast=True)
        def synapse_wrap_step(self, step: BaseStep[Any]) -> BaseStep[Any]:
            return Wrapper(step, "outer")

    class Inner:
        @hookimpl(tryfirst=True)
        def synapse_wrap_step(self, step: BaseStep[Any]) -> BaseStep[Any]:
            return Wrapper(step, "inner")

    class Declines:
        @hookimpl
        def synapse_wrap_step(self, step: BaseStep[Any]) -> None:
            return None

    host.register(Outer(), "outer")
    host.register(Inner(), "inner")
    host.register(Declines(), "declines")
    plan = Pipeline({}, plugins=host).plan()
    assert plan.names == ["load", "save"]
    assert plan.steps[0].wrapped_by == ("inner", "outer")
    assert all(step.has_rollback for step in plan.steps)

    with pytest.raises(StepExecutionError, match="step 'save' failed"):
        run(host, fail_at="save")
    assert JOURNAL == [
        "enter:outer:load",
        "enter:inner:load",
        "run:load",
        "enter:outer:save",
        "enter:inner:save",
        "run:save",
        "undo:save",
        "undo:load",
    ]


def test_builtin_wrappers_work_as_plugin_wrappers_and_keep_the_step_name(
    host: PluginHost,
) -> None:
    class Timed:
        @hookimpl
        def synapse_wrap_step(self, step: BaseStep[Any]) -> BaseStep[Any]:
            return TimingStep(step)

    host.register(Timed(), "timed")
    action = Pipeline({}, plugins=host)
    plan = action.plan()
    assert plan.names == ["load", "save"]
    assert [step.wrapped_by for step in plan.steps] == [("timed",), ("timed",)]
    assert action.run()["steps_executed"] == 2


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        (lambda step: "not a step", "returned str, not a step or None"),
        (lambda step: step, "does not wrap step 'load'"),
        (lambda step: Step("impostor", JOURNAL), "does not wrap step 'load'"),
    ],
)
def test_wrap_step_must_return_a_wrapper_of_the_given_step(
    host: PluginHost, returned: Any, problem: str
) -> None:
    class Bad:
        @hookimpl
        def synapse_wrap_step(self, step: BaseStep[Any]) -> Any:
            return returned(step)

    host.register(Bad(), "bad-wrapper")
    with pytest.raises(PluginHookError, match=problem) as caught:
        run(host)
    assert caught.value.plugin == "bad-wrapper"
    assert "SYNAPSE_DISABLE_PLUGINS=bad-wrapper" in str(caught.value)
    assert JOURNAL == []


def test_setup_steps_error_names_the_plugin_and_nothing_runs(host: PluginHost) -> None:
    class Crashing:
        @hookimpl
        def synapse_setup_steps(self, registry: StepRegistry[Any]) -> None:
            registry.insert_after("no-such-step", Step("x", JOURNAL))

    host.register(Crashing(), "crashing")
    with pytest.raises(
        PluginHookError, match="plugin 'crashing' failed in synapse_setup_steps"
    ) as caught:
        run(host)
    assert isinstance(caught.value.__cause__, ValueError)
    assert JOURNAL == []


class Observer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def synapse_before_run(self, action: BaseAction[Any], context: ActionContext) -> None:
        self.calls.append(("before", context.current_step))

    @hookimpl
    def synapse_after_run(self, result: dict[str, Any]) -> None:
        self.calls.append(("after", result["steps_executed"]))

    @hookimpl
    def synapse_after_rollback(self, context: ActionContext, error: BaseException) -> None:
        self.calls.append(("rolled_back", type(error).__name__))

    @hookimpl
    def synapse_on_run_error(self, error: BaseException) -> None:
        self.calls.append(("error", type(error).__name__))


def test_run_hooks_observe_success(host: PluginHost) -> None:
    observer = Observer()
    host.register(observer, "observer")
    run(host)
    assert observer.calls == [("before", None), ("after", 2)]


def test_run_hooks_observe_failure_after_rollback(host: PluginHost) -> None:
    observer = Observer()
    host.register(observer, "observer")
    with pytest.raises(StepExecutionError):
        run(host, fail_at="save")
    assert observer.calls == [
        ("before", None),
        ("rolled_back", "StepExecutionError"),
        ("error", "StepExecutionError"),
    ]
    assert JOURNAL[-2:] == ["undo:save", "undo:load"]


def test_run_hooks_observe_interrupt(host: PluginHost) -> None:
    observer = Observer()
    host.register(observer, "observer")

    class Interrupting:
        @hookimpl
        def synapse_setup_steps(self, registry: StepRegistry[Any]) -> None:
            registry.register(Interrupt())

    class Interrupt(BaseStep[Any]):
        name = "interrupt"
        progress_weight = 1.0

        def execute(self, context: Any) -> StepResult:
            raise KeyboardInterrupt

    host.register(Interrupting(), "interrupting")
    with pytest.raises(KeyboardInterrupt):
        run(host)
    assert observer.calls[1:] == [
        ("rolled_back", "KeyboardInterrupt"),
        ("error", "KeyboardInterrupt"),
    ]
    assert JOURNAL == ["run:load", "run:save", "undo:save", "undo:load"]


def test_failing_observer_is_logged_and_the_run_goes_on(host: PluginHost) -> None:
    from structlog.testing import capture_logs

    class Broken:
        @hookimpl
        def synapse_before_run(self) -> None:
            raise RuntimeError("metrics server down")

    host.register(Broken(), "metrics")
    with capture_logs() as logs:
        assert run(host)["success"] is True
    failures = [entry for entry in logs if entry["event"] == "plugin_hook_failed"]
    assert failures
    assert failures[0]["plugin"] == "metrics"
    assert "metrics server down" in failures[0]["error"]


def test_misspelt_hook_is_rejected_at_registration(host: PluginHost) -> None:
    class Typo:
        @hookimpl
        def synapse_setup_stepz(self, registry: Any) -> None:
            pass

    with pytest.raises(pluggy.PluginValidationError):
        host.register(Typo(), "typo")
    assert "typo" not in host.records


def test_implementations_may_take_fewer_arguments(host: PluginHost) -> None:
    seen: list[str] = []

    class Minimal:
        @hookimpl
        def synapse_setup_steps(self) -> None:
            seen.append("called")

    host.register(Minimal(), "minimal")
    run(host)
    assert seen == ["called"]
    assert host.records["minimal"].hooks == ["synapse_setup_steps"]
