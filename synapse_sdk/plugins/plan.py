"""A plan: an action's resolved step list, with who contributed and who wrapped each step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synapse_sdk.exceptions import PluginHookError
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, unwrap

if TYPE_CHECKING:
    from synapse_sdk.plugins.actions.base import BaseAction
    from synapse_sdk.plugins.manager import PluginHost

__all__ = ["ACTION_ORIGIN", "Plan", "PlannedStep", "build_plan"]

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


def _check_wrapper(plugin: str, original: BaseStep[Any], wrapper: object) -> BaseStep[Any]:
    if not isinstance(wrapper, BaseStep):
        raise PluginHookError(
            plugin, "synapse_wrap_step", f"returned {type(wrapper).__name__}, not a step or None"
        )
    if wrapper is original or unwrap(wrapper) is not unwrap(original):
        raise PluginHookError(
            plugin,
            "synapse_wrap_step",
            f"returned {wrapper!r}, which does not wrap step '{original.name}'; "
            "return a StepWrapper around the step you were given, or None",
        )
    return wrapper


def build_plan(action: BaseAction[Any], host: PluginHost) -> Plan:
    """Build the registry for ``action``: its own steps, then every plugin's changes.

    Raises:
        PluginHookError: a plugin's hook raised or returned something that is not a wrapper.
    """
    registry: StepRegistry[Any] = StepRegistry()
    action.setup_steps(registry)
    origin = dict.fromkeys(registry.names, ACTION_ORIGIN)
    for plugin, _ in host.call_each("synapse_setup_steps", action=action, registry=registry):
        for name in registry.names:
            origin.setdefault(name, plugin)

    wrapped_by: dict[str, tuple[str, ...]] = {}
    for name in registry.names:
        step = registry.get(name)
        wrappers: list[str] = []
        for plugin, result in host.chain("synapse_wrap_step", "step", step, action=action):
            if result is not None:
                step = _check_wrapper(plugin, step, result)
                wrappers.append(plugin)
        if wrappers:
            try:
                registry.replace(name, step)
            except ValueError as exc:
                raise PluginHookError(wrappers[-1], "synapse_wrap_step", str(exc)) from exc
            origin[step.name] = origin[name]
            wrapped_by[step.name] = tuple(wrappers)

    steps = registry.get_steps()
    total = registry.total_weight
    planned = [
        PlannedStep(
            position=position,
            name=step.name,
            weight=step.progress_weight,
            percent=100 * (step.progress_weight / total if total > 0 else 1 / len(steps)),
            contributed_by=origin.get(step.name, ACTION_ORIGIN),
            wrapped_by=wrapped_by.get(step.name, ()),
            has_rollback=step.has_rollback,
        )
        for position, step in enumerate(steps, start=1)
    ]
    return Plan(action=action.name, registry=registry, steps=planned)
