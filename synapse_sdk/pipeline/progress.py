"""One progress bar across a pipeline: each action's 0-100% mapped into its band.

Each action owns a band of the pipeline's 0-100 range proportional to the sum of its
steps' weights (an action whose weights sum to zero counts as one step of weight one per
step). The orchestrator of each action reports as usual; the action's sinks are
:class:`ActionBand` wrappers that rescale its percentage into the band, name the action in
every step, log and metrics event (``export`` then a chevron then ``coco``), and never let
the overall figure go back.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

from synapse_sdk.engine.progress import band_edges
from synapse_sdk.runtime.events import Event, LogEvent, MetricsEvent, ProgressEvent, StepEvent
from synapse_sdk.runtime.sinks import ProgressSink

__all__ = ["ActionBand", "PipelineProgress", "bands"]

SEPARATOR = " \u203a "  # a chevron: "export › coco"  # noqa: RUF003


def bands(weights: Sequence[float]) -> list[tuple[float, float]]:
    """``(low, high)`` percentages of each action, from its total step weight."""
    return list(itertools.pairwise(band_edges(weights)))


class PipelineProgress:
    """The pipeline's sinks and the highest overall percentage sent to them so far."""

    def __init__(self, sinks: Sequence[ProgressSink]) -> None:
        self.sinks = list(sinks)
        self.last = -1
        self._lock = threading.Lock()

    def band(self, action: str, low: float, high: float) -> ActionBand:
        """The sink for one action's runtime context."""
        return ActionBand(self, action, low, high)

    def send(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)

    def advance(self, percent: int, event: ProgressEvent) -> None:
        with self._lock:
            if percent <= self.last:
                return
            self.last = percent
        self.send(event._replace(percent=percent))


class ActionBand:
    """A sink of one action's runtime context, forwarding to the pipeline's sinks."""

    def __init__(self, pipeline: PipelineProgress, action: str, low: float, high: float) -> None:
        self.pipeline = pipeline
        self.action = action
        self.low = low
        self.high = high

    def _named(self, step: str | None) -> str:
        return self.action if step is None else f"{self.action}{SEPARATOR}{step}"

    def emit(self, event: Event) -> None:
        if isinstance(event, ProgressEvent):
            percent = round(self.low + (self.high - self.low) * event.percent / 100)
            self.pipeline.advance(percent, event._replace(step=self._named(event.step)))
        elif isinstance(event, StepEvent | LogEvent | MetricsEvent):
            self.pipeline.send(event._replace(step=self._named(event.step)))
        else:
            self.pipeline.send(event)

    def close(self) -> None:
        """Nothing: the pipeline's sinks outlive each action and are closed by their owner."""
