"""A plan: an action's resolved step list, with who contributed and who wrapped each step.

A step keeps the name its action (or the plugin that added it) registered, however many
plugins wrap it: the wrappers show in ``wrapped_by``, never in the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from synapse_sdk.engine.base import BaseStep
from synapse_sdk.engine.registry import StepRegistry
from synapse_sdk.engine.utility import PluginWrapped, StepWrapper
from synapse_sdk.errors import PluginHookError
from synapse_sdk.host.hookspecs import ActionView

if TYPE_CHECKING:
    from synapse_sdk.host.manager import PluginHost


class PlannedAction(ActionView, Protocol):
    """What planning needs of an action (a :class:`~synapse_sdk.plugins.BaseAction`)."""

    def setup_steps(self, registry: StepRegistry[Any]) -> None: ...


__all__ = ["ACTION_ORIGIN", "Plan", "PlannedAction", "PlannedStep", "build_plan"]

ACTION_ORIGIN = "action"
"""``contributed_by`` of the steps the action registered itself."""


@dataclass(frozen=True)
class PlannedStep:
    """One step of a plan, as ``synapse plan`` shows it."""

    position: int
    name: str
    weight: float
    percent: float
    contributed_by: str
    wrapped_by: tuple[str, ...]
    has_rollback: bool


@dataclass
class Plan:
    """The final registry of a run and a description of each step."""

    action: str
    registry: StepRegistry[Any]
    steps: list[PlannedStep]

    @property
    def names(self) -> list[str]:
        return [step.name for step in self.steps]


def _check_wrapper(plugin: str, given: BaseStep[Any], wrapper: object) -> BaseStep[Any]:
    """``wrapper`` if it is a chain of StepWrappers around ``given`` itself, else an error."""
    if not isinstance(wrapper, BaseStep):
        raise PluginHookError(
            plugin, "synapse_wrap_step", f"returned {type(wrapper).__name__}, not a step or None"
        )
    layer: BaseStep[Any] = wrapper
    while layer is not given and isinstance(layer, StepWrapper):
        layer = layer.inner
    if wrapper is given or layer is not given:
        raise PluginHookError(
            plugin,
            "synapse_wrap_step",
            f"returned {wrapper!r}, which does not wrap step '{given.name}'; "
            "return a StepWrapper around the step you were given, or None",
        )
    return wrapper


def _wrap(action: PlannedAction, host: PluginHost, step: BaseStep[Any]) -> BaseStep[Any]:
    """``step`` as every plugin's ``synapse_wrap_step`` leaves it, under its own name.

    One hook call: each plugin is given the step as the previous ones wrapped it, inside
    a :class:`PluginWrapped` that keeps the step's name and lists who wrapped it.
    """
    name = step.name
    current = step

    def accept(plugin: str, result: object) -> BaseStep[Any]:
        nonlocal current
        wrapper = _check_wrapper(plugin, current, result)
        wrapped_by = current.wrapped_by if isinstance(current, PluginWrapped) else ()
        current = PluginWrapped(wrapper, name, (*wrapped_by, plugin))
        return current

    wrapped: BaseStep[Any] = host.chain("synapse_wrap_step", "step", step, accept, action=action)
    return wrapped


def build_plan(action: PlannedAction, host: PluginHost) -> Plan:
    """Build the registry for ``action``: its own steps, then every plugin's changes.

    Raises:
        PluginHookError: a plugin's hook raised or returned something that is not a wrapper.
    """
    registry: StepRegistry[Any] = StepRegistry()
    action.setup_steps(registry)
    origin = dict.fromkeys(registry.names, ACTION_ORIGIN)

    def credit(plugin: str, result: object) -> object:
        for name in registry.names:
            origin.setdefault(name, plugin)
        return result

    def credit_wrapper(plugin: str) -> None:  # steps a hook wrapper added after its yield
        credit(plugin, None)

    host.call("synapse_setup_steps", credit, credit_wrapper, action=action, registry=registry)

    for name in registry.names:
        step = _wrap(action, host, registry.get(name))
        if isinstance(step, PluginWrapped):
            try:
                registry.replace(name, step)
            except (TypeError, ValueError) as exc:  # a wrapper's own weight is not a number
                raise PluginHookError(step.wrapped_by[-1], "synapse_wrap_step", str(exc)) from exc

    steps = registry.get_steps()
    total = registry.total_weight
    planned = [
        PlannedStep(
            position=position,
            name=step.name,
            weight=step.progress_weight,
            percent=100 * (step.progress_weight / total if total > 0 else 1 / len(steps)),
            contributed_by=origin.get(step.name, ACTION_ORIGIN),
            wrapped_by=step.wrapped_by if isinstance(step, PluginWrapped) else (),
            has_rollback=step.has_rollback,
        )
        for position, step in enumerate(steps, start=1)
    ]
    return Plan(action=action.name, registry=registry, steps=planned)
