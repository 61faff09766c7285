"""A plugin that a newcomer might write, installed for the CLI screen and error tests.

``crashy`` loads rows (with a rollback), then prepares them: ``mode`` makes the prepare
step crash (a ZeroDivisionError in a helper), reject its input (StepInputError) or pass.
"""

from __future__ import annotations

from pathlib import Path

from support.distributions import make_distribution

SOURCE = '''
from synapse_sdk.errors import StepInputError
from synapse_sdk.plugins import BaseExportAction, ExportParams
from synapse_sdk.actions.export import ExportContext
from synapse_sdk.plugins.steps import BaseStep, StepRegistry, StepResult


class CrashyParams(ExportParams):
    mode: str = "crash"


def ratio(total, count):
    return total / count  # the crash


class Load(BaseStep[ExportContext]):
    name = "load"
    progress_weight = 1.0

    def execute(self, context):
        context.log("loaded", {"rows": 3})
        context.set_metrics({"rows": 3})
        return StepResult(success=True, rollback_data={"rows": list(range(10))})

    def rollback(self, context, result):
        context.log("unloaded")


class Prepare(BaseStep[ExportContext]):
    name = "prepare"
    progress_weight = 1.0

    def execute(self, context):
        if context.params.mode == "crash":
            ratio(3, 0)
        if context.params.mode == "input":
            raise StepInputError("rows.csv has no header row; add one")
        return StepResult(success=True)


class Crashy(BaseExportAction[CrashyParams]):
    """Loads rows, then prepares them.

    Or crashes, on request.
    """

    def setup_steps(self, registry: StepRegistry[ExportContext]) -> None:
        registry.register(Load())
        registry.register(Prepare())
'''

CRASH_LINE = SOURCE.splitlines().index("    return total / count  # the crash") + 1
"""The line of ``crashy.py`` that raises the ZeroDivisionError."""


def install_crashy(site: Path) -> Path:
    """Install the ``crashy`` action into ``site``; return its module's path."""
    make_distribution(
        site,
        "crashy",
        "0.1.0",
        modules={"crashy": SOURCE},
        entry_points={"synapse_sdk.actions": {"crashy": "crashy:Crashy"}},
    )
    return site / "crashy.py"
