"""Hooks are called through pluggy's own loop: wrappers, ordering, firstresult, tracing.

Real plugins registered on a real host; each failing implementation is still named.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from support.cli import Synapse
from support.distributions import install_demo

from synapse_sdk.actions.base import ActionContext, ActionParams
from synapse_sdk.errors import PluginHookError
from synapse_sdk.host import manager as plugin_manager
from synapse_sdk.host.hookspecs import PROJECT_NAME
from synapse_sdk.host.manager import plugin_host
from synapse_sdk.plugins import BaseAction, PluginHost, RuntimeContext, hookimpl
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult, StepWrapper
from synapse_sdk.runtime.settings import Settings
from synapse_sdk.testing import RecordingSink

CALLS: list[str] = []


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


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
        CALLS.append(f"run:{self._name}")
        return StepResult(success=True)


class OneStep(BaseAction[ActionParams]):
    def setup_steps(self, registry: StepRegistry[ActionContext]) -> None:
        registry.register(Named("load"))


class Adds:
    """Adds a step named after the plugin, and wraps every step."""

    def __init__(self, label: str) -> None:
        self.label = label

    @hookimpl
    def synapse_setup_steps(self, registry: StepRegistry[Any]) -> None:
        CALLS.append(f"setup:{self.label}")
        registry.register(Named(self.label))

    @hookimpl
    def synapse_wrap_step(self, step: BaseStep[Any]) -> BaseStep[Any] | None:
        CALLS.append(f"wrap:{self.label}:{step.name}")
        return StepWrapper(step) if step.name == "load" else None


def test_a_new_style_wrapper_runs_around_the_other_implementations_and_sees_their_results(
    host: PluginHost,
) -> None:
    class Around:
        @hookimpl(wrapper=True)
        def synapse_wrap_step(self, step: BaseStep[Any]) -> Generator[None, Any, Any]:
            CALLS.append(f"around:before:{step.name}")
            results = yield
            CALLS.append(f"around:after:{[result.wrapped_by for result in results]}")
            return results

    host.register(Around(), "around")
    host.register(Adds("a"), "a")
    host.register(Adds("b"), "b")  # registered last: called first

    plan = OneStep(plugins=host).plan()

    assert CALLS[CALLS.index("around:before:load") :][:4] == [
        "around:before:load",
        "wrap:b:load",
        "wrap:a:load",
        "around:after:[('b',), ('b', 'a')]",
    ]
    assert plan.steps[0].wrapped_by == ("b", "a")


def test_an_old_style_hookwrapper_runs_around_the_others_and_sees_what_they_did(
    host: PluginHost,
) -> None:
    class OldStyle:
        @hookimpl(hookwrapper=True)
        def synapse_setup_steps(self, registry: StepRegistry[Any]) -> Generator[None, Any, None]:
            CALLS.append(f"old:before:{registry.names}")
            outcome = yield
            outcome.get_result()
            CALLS.append(f"old:after:{registry.names}")

    host.register(Adds("a"), "a")
    host.register(OldStyle(), "old")

    OneStep(plugins=host).plan()

    assert CALLS[:3] == ["old:before:['load']", "setup:a", "old:after:['load', 'a']"]


def test_tryfirst_and_trylast_hold_whatever_the_registration_order(host: PluginHost) -> None:
    class Last(Adds):
        @hookimpl(trylast=True)
        def synapse_setup_steps(self, registry: StepRegistry[Any]) -> None:
            super().synapse_setup_steps(registry)

    class First(Adds):
        @hookimpl(tryfirst=True)
        def synapse_setup_steps(self, registry: StepRegistry[Any]) -> None:
            super().synapse_setup_steps(registry)

    host.register(First("first"), "first")
    host.register(Last("last"), "last")
    host.register(Adds("middle"), "middle")

    assert OneStep(plugins=host).plan().names == ["load", "first", "middle", "last"]


def test_observer_hooks_keep_pluggy_order_too(host: PluginHost) -> None:
    class Observer:
        def __init__(self, label: str) -> None:
            self.label = label

        @hookimpl
        def synapse_before_run(self) -> None:
            CALLS.append(self.label)

    class LastObserver(Observer):
        @hookimpl(trylast=True)
        def synapse_before_run(self) -> None:
            CALLS.append(self.label)

    host.register(LastObserver("last"), "last")
    host.register(Observer("one"), "one")
    host.register(Observer("two"), "two")

    host.notify("synapse_before_run", RuntimeContext(), action=None, context=None)

    assert CALLS == ["two", "one", "last"]


class PickSpecs:
    """A spec that declares firstresult, added to the host for these tests."""

    @pluggy.HookspecMarker(PROJECT_NAME)(firstresult=True)
    def synapse_pick(self, options: list[str]) -> str | None:
        """The first implementation that returns something wins."""


def test_firstresult_stops_at_the_first_answer(host: PluginHost) -> None:
    host.pm.add_hookspecs(PickSpecs)

    class Picks:
        def __init__(self, answer: str | None) -> None:
            self.answer = answer

        @hookimpl
        def synapse_pick(self, options: list[str]) -> str | None:
            CALLS.append(f"pick:{self.answer}")
            return self.answer

    host.register(Picks("never asked"), "third")
    host.register(Picks("second"), "second")
    host.register(Picks(None), "declines")

    assert host.call("synapse_pick", options=["a"]) == "second"
    assert CALLS == ["pick:None", "pick:second"]


class Broken:
    @hookimpl
    def synapse_setup_steps(self) -> None:
        raise RuntimeError("broken on purpose")

    @hookimpl
    def synapse_before_run(self) -> None:
        raise RuntimeError("broken on purpose")


def test_a_failing_implementation_is_named_even_inside_a_wrapper(host: PluginHost) -> None:
    class Around:
        @hookimpl(wrapper=True)
        def synapse_setup_steps(self) -> Generator[None, Any, Any]:
            try:
                return (yield)
            except PluginHookError as exc:
                CALLS.append(f"around saw {exc.plugin}")
                raise

    host.register(Around(), "around")
    host.register(Broken(), "broken")

    with pytest.raises(PluginHookError, match="plugin 'broken' failed in synapse_setup_steps"):
        OneStep(plugins=host).plan()
    assert CALLS == ["around saw broken"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_failing_wrapper_is_named(host: PluginHost, where: str) -> None:
    class FailingWrapper:
        @hookimpl(wrapper=True)
        def synapse_setup_steps(self) -> Generator[None, Any, Any]:
            if where == "before":
                raise ValueError("wrapper broke before")
            yield
            raise ValueError("wrapper broke after")

    host.register(Adds("a"), "a")
    host.register(FailingWrapper(), "failing-wrapper")

    with pytest.raises(PluginHookError, match=f"'failing-wrapper'.*wrapper broke {where}"):
        OneStep(plugins=host).plan()


def test_a_failing_observer_or_observer_wrapper_is_logged_and_the_others_still_run(
    host: PluginHost,
) -> None:
    class BrokenWrapper:
        @hookimpl(wrapper=True)
        def synapse_before_run(self) -> Generator[None, Any, Any]:
            result = yield
            raise ValueError("wrapper broke")
            return result  # pragma: no cover - never reached

    class Works:
        @hookimpl
        def synapse_before_run(self) -> None:
            CALLS.append("works")

    host.register(Works(), "works")
    host.register(Broken(), "broken")  # called before "works"
    host.register(BrokenWrapper(), "broken-wrapper")
    sink = RecordingSink()

    host.notify("synapse_before_run", RuntimeContext(sinks=[sink]), action=None, context=None)

    assert CALLS == ["works"]
    assert [(log.data["plugin"], log.data["error"]) for log in sink.logs] == [
        ("broken", "RuntimeError: broken on purpose"),
        ("broken-wrapper", "ValueError: wrapper broke"),
    ]


def test_a_hook_called_on_pluggy_directly_still_names_the_failing_plugin(
    host: PluginHost,
) -> None:
    host.register(Broken(), "broken")

    with pytest.raises(PluginHookError, match="plugin 'broken' failed in synapse_setup_steps"):
        host.pm.hook.synapse_setup_steps(action=None, registry=StepRegistry())


TRACE_LINE = re.compile(r"^synapse trace: (\w+) (\d+\.\d{3}) ms \[(.*)\]$")


def test_synapse_trace_plugins_prints_each_hook_call_with_plugin_and_duration(
    tmp_path: Path,
) -> None:
    synapse = Synapse(install_demo(tmp_path / "site"), tmp_path)

    only = {"SYNAPSE_LOAD_PLUGINS": "announce,stamp"}

    traced = synapse("plan", "demo-upload", SYNAPSE_TRACE_PLUGINS="1", **only)
    quiet = synapse("plan", "demo-upload", **only)

    assert traced.returncode == 0, traced.stderr
    assert traced.stdout == quiet.stdout
    assert quiet.stderr == ""
    calls = [TRACE_LINE.match(line) for line in traced.stderr.splitlines()]
    assert all(calls), traced.stderr
    by_hook = [(match[1], match[3]) for match in calls if match]
    assert by_hook[0][0] == "synapse_setup_steps"
    assert re.fullmatch(r"announce \d+\.\d{3} ms", by_hook[0][1])
    wraps = [plugins for hook, plugins in by_hook if hook == "synapse_wrap_step"]
    assert len(wraps) == 4  # one call per step of the plan
    assert all(re.fullmatch(r"stamp \d+\.\d{3} ms", plugins) for plugins in wraps)


class Around:
    @hookimpl(wrapper=True)
    def synapse_setup_steps(self) -> Generator[None, None, None]:
        return (yield)


class BrokenSetup:
    @hookimpl
    def synapse_setup_steps(self) -> None:
        raise RuntimeError("no config")


def test_a_tracing_host_prints_each_hook_call_with_each_plugins_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = PluginHost(trace=True)
    host.register(Adds("extra"), "adds")
    host.register(Around(), "around")

    OneStep(plugins=host).plan()

    lines = capsys.readouterr().err.splitlines()
    setup = [line for line in lines if line.startswith("synapse trace: synapse_setup_steps ")]
    assert len(setup) == 1, lines
    assert re.fullmatch(
        r"synapse trace: synapse_setup_steps \d+\.\d{3} ms "
        r"\[around \(wrapper\), adds \d+\.\d{3} ms\]",
        setup[0],
    )
    assert all(TRACE_LINE.match(line) or " (wrapper)" in line for line in lines)


def test_a_traced_hook_that_fails_says_so_and_a_quiet_host_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = PluginHost(trace=True)
    host.register(BrokenSetup(), "broken")

    with pytest.raises(PluginHookError):
        OneStep(plugins=host).plan()

    [line] = capsys.readouterr().err.splitlines()
    assert re.fullmatch(
        r"synapse trace: synapse_setup_steps \d+\.\d{3} ms failed: PluginHookError\(.*no config.*"
        r"\[broken \d+\.\d{3} ms\]",
        line,
    ), line
    quiet = PluginHost()
    quiet.register(Adds("extra"), "adds")
    OneStep(plugins=quiet).plan()
    assert capsys.readouterr().err == ""


class Slow:
    @hookimpl
    def synapse_setup_steps(self) -> None:
        time.sleep(0.02)


def test_traced_times_are_milliseconds_of_the_call_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = PluginHost(trace=True)
    host.register(Slow(), "slow")

    OneStep(plugins=host).plan()

    [line] = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("synapse trace: synapse_setup_steps ")
    ]
    match = re.fullmatch(
        r"synapse trace: synapse_setup_steps (\d+\.\d{3}) ms \[slow (\d+\.\d{3}) ms\]", line
    )
    assert match is not None, line
    total, own = float(match[1]), float(match[2])
    assert 20.0 <= own <= total < 1000.0  # a 20 ms sleep, in ms, within the whole call


def test_a_hook_called_past_the_host_is_traced_in_pluggys_order_without_times(
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = PluginHost(trace=True)
    host.register(Adds("one"), "one")
    host.register(Adds("two"), "two")

    host.pm.hook.synapse_setup_steps(action=None, registry=StepRegistry[Any]())
    host.pm.hook.synapse_before_run(action=None, context=None)

    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(
        # pluggy's call order: the plugin registered last first
        r"synapse trace: synapse_setup_steps \d+\.\d{3} ms \[two \(wrapper\), one \(wrapper\)\]",
        lines[0],
    ), lines
    assert re.fullmatch(
        r"synapse trace: synapse_before_run \d+\.\d{3} ms \[no plugins\]", lines[1]
    ), lines


def test_the_host_of_settings_that_ask_for_tracing_traces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plugin_manager, "_HOSTS", {})  # hosts made earlier in this process
    none = {"SYNAPSE_LOAD_PLUGINS": ""}
    traced = plugin_host(Settings.from_env({**none, "SYNAPSE_TRACE_PLUGINS": "1"}))
    quiet = plugin_host(Settings.from_env(none))

    assert (traced.tracing, quiet.tracing) == (True, False)


class Renamed:
    """Implements hooks under other method names, through ``specname``."""

    @hookimpl(specname="synapse_setup_steps")
    def add_nothing(self) -> None:
        raise RuntimeError("setup broke")

    @hookimpl(specname="synapse_wrap_step", wrapper=True)
    def around(self) -> Generator[None, BaseStep[Any] | None, BaseStep[Any] | None]:
        yield
        raise RuntimeError("wrapper broke")


def test_a_failing_hook_named_by_specname_is_reported_under_the_hook_it_implements() -> None:
    host = PluginHost()
    plugin = Renamed()
    host.register(plugin, "renamed")

    with pytest.raises(PluginHookError) as caught:
        OneStep(plugins=host).plan()

    message = str(caught.value)
    assert "renamed" in message
    assert "synapse_setup_steps" in message
    assert "add_nothing" not in message
    [(registered, _)] = host.registered()
    assert registered is plugin
    assert repr(host.pm.get_plugin("renamed")) == repr(plugin)


def test_a_failing_wrapper_named_by_specname_is_reported_under_its_hook() -> None:
    class WrapperOnly:
        @hookimpl(specname="synapse_wrap_step", wrapper=True)
        def around(self) -> Generator[None, BaseStep[Any] | None, BaseStep[Any] | None]:
            yield
            raise RuntimeError("wrapper broke")

    host = PluginHost()
    host.register(WrapperOnly(), "wrapping")

    with pytest.raises(PluginHookError) as caught:
        OneStep(plugins=host).plan()

    assert "synapse_wrap_step" in str(caught.value)
    assert "wrapping" in str(caught.value)


def test_an_old_style_wrapper_failing_after_its_yield_is_the_plugins_error_not_a_warning() -> None:
    class OldStyleBroken:
        @hookimpl(hookwrapper=True)
        def synapse_setup_steps(self) -> Generator[None, Any, None]:
            yield
            raise RuntimeError("teardown broke")

    host = PluginHost()
    host.register(OldStyleBroken(), "old-broken")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(PluginHookError) as error:
            OneStep(plugins=host).plan()

    assert "old-broken" in str(error.value)
    assert "teardown broke" in str(error.value)
    assert [str(warning.message) for warning in caught] == []


def test_steps_a_hook_wrapper_adds_after_its_yield_are_credited_to_it(host: PluginHost) -> None:
    class AddsAfter:
        @hookimpl(wrapper=True)
        def synapse_setup_steps(self, registry: StepRegistry[Any]) -> Generator[None, Any, Any]:
            results = yield
            registry.register(Named("late"))
            return results

    host.register(AddsAfter(), "adds-after")
    host.register(Adds("a"), "a")

    plan = OneStep(plugins=host).plan()

    assert {step.name: step.contributed_by for step in plan.steps} == {
        "load": "action",
        "a": "a",
        "late": "adds-after",
    }
