"""The terminal sink: a live progress bar (rich) on stderr, log lines printed above it."""

import logging
import sys
import time

import structlog

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.runtime import TerminalSink
from synapse_sdk.plugins.steps import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    StepRegistry,
    StepResult,
)


class Convert(BaseStep[BaseStepContext]):
    @property
    def name(self) -> str:
        return "convert"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        total = 200_000
        for done in range(1, total + 1):
            context.set_progress(done, total)  # cheap: the bar redraws ~10 times a second
        context.log("converted", {"images": total})
        time.sleep(0.2)
        return StepResult(success=True)


# RuntimeContext.log() goes both to structlog and to the sinks. structlog's default
# configuration prints every line to stdout, so with a terminal sink each log line would show
# twice. Here structlog keeps only warnings and writes them to stderr; the bar shows the rest.
structlog.configure(
    wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    logger_factory=structlog.PrintLoggerFactory(sys.stderr),
)

# The sink writes to stderr by default; pass console=rich.console.Console(...) or stream=... to
# send it elsewhere. Logs below min_level ("info" by default) are not shown.
runtime = RuntimeContext(sinks=[TerminalSink(refresh_per_second=10, title="import")])
registry = StepRegistry[BaseStepContext]()
registry.register(Convert())
try:
    print(Orchestrator(registry, BaseStepContext(runtime_ctx=runtime)).execute())
finally:
    runtime.close()  # draws the final state and stops the bar
