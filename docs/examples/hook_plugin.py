"""A hook plugin: adds a step to every export and times every step.

Publish it with an entry point in your pyproject.toml::

    [project.entry-points."synapse_sdk.plugins"]
    audit = "hook_plugin"

Run: python docs/examples/hook_plugin.py
"""

import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from synapse_sdk.plugins import BaseAction, PluginHost, hookimpl, run_action
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult, StepWrapper


class AuditStep(BaseStep[Any]):
    name = "audit"
    progress_weight = 0.05

    def execute(self, context: Any) -> StepResult:
        context.log("audited", {"files": len(context.written)})
        return StepResult(success=True)


class Timed(StepWrapper[Any]):
    prefix = "timed_"  # only when used directly: a plugin's wrapper keeps the step's name

    def execute(self, context: Any) -> StepResult:
        started = time.perf_counter()
        try:
            return self.inner.execute(context)
        finally:
            context.set_metrics({f"{self.inner.name}_seconds": time.perf_counter() - started})


@hookimpl
def synapse_setup_steps(action: BaseAction[Any], registry: StepRegistry[Any]) -> None:
    if action.kind == "export" and "write" in registry:
        registry.insert_after("write", AuditStep())


@hookimpl
def synapse_wrap_step(step: BaseStep[Any]) -> BaseStep[Any]:
    return Timed(step)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    import hook_plugin
    from first_action import Greet

    host = PluginHost()
    host.register(hook_plugin, "audit")  # what entry-point discovery does for installed plugins
    action = Greet({"names": ["Grace"], "output_uri": mkdtemp()}, plugins=host)
    print(action.plan().names)  # ['collect', 'write', 'audit']
    print(run_action(Greet, {"names": ["Grace"], "output_uri": mkdtemp()}, plugins=host))
