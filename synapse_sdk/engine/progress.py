"""Weighted progress: turns step-local progress into one overall percentage.

Each step owns a band of the 0-100 range proportional to its weight (weights are
normalised; if they are all zero, every step gets an equal band). Reports are integers,
never go backwards, and only increases reach the listener, so a step may report progress
as often as it likes at the cost of a few arithmetic operations per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from synapse_sdk.runtime.context import ProgressScope

__all__ = ["FROZEN_PROGRESS", "ProgressListener", "WeightedProgress", "band_edges"]

_HUGE = 1e300
"""Weights above this are scaled down before summing (the float range ends near 1.8e308)."""

ProgressListener = Callable[[int, str | None, float | None, float | None], None]
"""Called as ``listener(percent, step, current, total)`` when progress inside a step rises."""


class _FrozenProgress:
    """Ignores progress: rollbacks never move the overall figure (it must not go back)."""

    def step_progress(self, current: float, total: float) -> None:
        return None


FROZEN_PROGRESS: ProgressScope = _FrozenProgress()


def band_edges(weights: Sequence[float]) -> list[float]:
    """Where each band of the 0-100 range starts and ends: ``[0, ..., 100]``, one per weight.

    Each band is proportional to its weight; if they are all zero, the bands are equal.
    Used for the steps of a run and for the actions of a pipeline alike.
    """
    peak = max(weights, default=0.0)
    if peak > _HUGE:  # finite weights so large that 100 * their sum would overflow
        weights = [weight / peak for weight in weights]
    total = math.fsum(weights)
    if total <= 0:
        weights = [1.0] * len(weights)
        total = float(len(weights))
    # Edges are percentages, 100 * cumulative / total in that order: dividing first can
    # land just below a .5 (23 / 40 < 0.575) and round the wrong way.
    edges = [0.0]
    running = 0.0
    for weight in weights:
        running += weight
        edges.append(min(100 * running / total, 100.0))  # float drift never passes the end
    if len(edges) > 1:
        edges[-1] = 100.0  # absorb float drift so the last band ends exactly at 100
    return edges


class WeightedProgress:
    """Overall progress across steps with the given weights.

    The orchestrator sets :attr:`index` to the running step; :meth:`step_progress` maps
    that step's ``current/total`` into its band. :attr:`ends` holds the percentage reached
    at the end of each step and :attr:`last` the highest percentage reported so far.
    These are plain attributes because the orchestrator updates them once per step on its
    hot path.
    """

    __slots__ = ("_bounds", "_listener", "ends", "index", "last", "names")

    def __init__(
        self, weights: Sequence[float], names: Sequence[str], listener: ProgressListener
    ) -> None:
        bounds = band_edges(weights)
        self._bounds = bounds
        self._listener = listener
        self.names = list(names)
        self.ends = [round(bound) for bound in bounds[1:]]
        self.index = 0
        self.last = -1

    def step_progress(self, current: float, total: float) -> None:
        """Move the overall figure inside the running step's band (``current/total`` of it)."""
        if total <= 0:
            return
        fraction = current / total
        if fraction < 0.0 or fraction != fraction:  # negative or NaN: nothing to report
            return
        if fraction > 1.0:
            fraction = 1.0
        index = self.index
        low = self._bounds[index]
        percent = round(low + (self._bounds[index + 1] - low) * fraction)
        if percent > self.last:
            self.last = percent
            self._listener(percent, self.names[index], current, total)
