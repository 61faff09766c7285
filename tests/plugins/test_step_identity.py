"""A step keeps the name its action registered, however many plugins wrap it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.errors import PluginHookError, StepExecutionError
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.plugins import BaseAction, PluginHost, RuntimeContext, hookimpl, run_action
from synapse_sdk.plugins.steps import (
    BaseStep,
    LoggingStep,
    StepRegistry,
    StepResult,
    StepWrapper,
    TimingStep,
)
from synapse_sdk.testing import RecordingSink


class Params(ActionParams):
    fail_at: str | None = None


class Named(BaseStep[ActionContext]):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: ActionContext) -> StepResult:
        context.log("step_ran")
        if context.params.fail_at == self._name:
            return StepResult(success=False, error="asked to fail")
        return StepResult(success=True)

    def rollback(self, context: ActionContext, result: StepResult) -> None:
        context.log("step_undone")


class Upload(BaseAction[Params]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(Named("discover"))
        registry.register(Named("upload"))
        registry.register(Named("summary"))


class Timed(StepWrapper[Any]):
    """Renames what it wraps, as the integrity example's wrapper does."""

    prefix = "timed_"


class TimesEveryStep:
    @hookimpl
    def synapse_wrap_step(self, step: BaseStep[Any]) -> BaseStep[Any]:
        return Timed(step)


class Checksums(StepWrapper[Any]):
    prefix = "checked_"


class ChecksumsUploads:
    """Looks for the step by the name the action gave it."""

    seen: list[str]

    def __init__(self) -> None:
        self.seen = []

    @hookimpl
    def synapse_setup_steps(self, registry: StepRegistry[Any]) -> None:
        self.seen.extend(registry.names)

    @hookimpl
    def synapse_wrap_step(self, step: BaseStep[Any]) -> BaseStep[Any] | None:
        self.seen.append(step.name)
        return Checksums(step) if step.name == "upload" else None


@pytest.mark.parametrize("checksums_first", [True, False], ids=["checksums-first", "timer-first"])
def test_a_plugin_matching_a_step_by_name_matches_whatever_else_wraps_it(
    checksums_first: bool,
) -> None:
    host = PluginHost()
    checksums = ChecksumsUploads()
    plugins: list[tuple[object, str]] = [(checksums, "checksums"), (TimesEveryStep(), "timer")]
    for plugin, name in plugins if checksums_first else reversed(plugins):
        host.register(plugin, name)

    plan = Upload(plugins=host).plan()

    assert plan.names == ["discover", "upload", "summary"]
    assert checksums.seen == ["discover", "upload", "summary"] * 2
    wrapped_by = {step.name: set(step.wrapped_by) for step in plan.steps}
    assert wrapped_by == {
        "discover": {"timer"},
        "upload": {"timer", "checksums"},
        "summary": {"timer"},
    }


def test_the_journal_events_and_errors_carry_the_registered_name(tmp_path: Path) -> None:
    host = PluginHost()
    host.register(TimesEveryStep(), "timer")
    host.register(ChecksumsUploads(), "checksums")
    sink = RecordingSink()
    runtime = RuntimeContext(sinks=[sink])
    journal = RunJournal(tmp_path / "runs.db")

    with pytest.raises(StepExecutionError, match="step 'summary' failed") as caught:
        run_action(Upload, {"fail_at": "summary"}, ctx=runtime, plugins=host, journal=journal)

    assert caught.value.step == "summary"
    run = journal.get_run(runtime.job_id or "")
    assert run is not None
    assert [step.name for step in run.steps] == ["discover", "upload", "summary"]
    assert {step for step, _ in sink.steps} == {"discover", "upload", "summary"}
    assert [log.step for log in sink.logs if log.message == "step_ran"] == [
        "discover",
        "upload",
        "summary",
    ]
    assert [log.step for log in sink.logs if log.message == "step_undone"] == [
        "summary",
        "upload",
        "discover",
    ]


def test_a_logging_step_returned_by_a_plugin_logs_under_the_registered_name() -> None:
    class Logs:
        @hookimpl
        def synapse_wrap_step(self, step: BaseStep[Any]) -> BaseStep[Any]:
            return LoggingStep(step)

    host = PluginHost()
    host.register(Logs(), "logs")
    sink = RecordingSink()

    Upload({}, RuntimeContext(sinks=[sink]), plugins=host).run()

    starts = [log.step for log in sink.logs if log.message == "step_start"]
    assert starts == ["discover", "upload", "summary"]


def test_a_step_wrapped_directly_keeps_the_seed_name_and_plugins_keep_it_too() -> None:
    class Direct(BaseAction[Params]):
        def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
            registry.register(LoggingStep(TimingStep(Named("load"))))

    host = PluginHost()
    host.register(TimesEveryStep(), "timer")

    plan = Direct(plugins=host).plan()

    assert plan.names == ["logged_timed_load"]
    assert plan.steps[0].wrapped_by == ("timer",)
    assert Direct(plugins=PluginHost()).plan().names == ["logged_timed_load"]


def test_a_wrapper_that_drops_another_plugins_wrapper_is_refused() -> None:
    class DropsTheTimer:
        @hookimpl(trylast=True)
        def synapse_wrap_step(self, step: Any) -> BaseStep[Any]:
            return Checksums(step.inner)  # around what the timer wrapped, not the timer

    host = PluginHost()
    host.register(TimesEveryStep(), "timer")
    host.register(DropsTheTimer(), "dropper")

    with pytest.raises(PluginHookError, match=r"plugin 'dropper'.*does not wrap step 'discover'"):
        Upload(plugins=host).plan()
