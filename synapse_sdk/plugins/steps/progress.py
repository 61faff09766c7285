"""Weighted progress: turns step-local progress into one overall percentage.

Each step owns a band of the 0-100 range proportional to its weight (weights are
normalised; if they are all zero, every step gets an equal band). Reports are integers,
never go backwards, and only changes reach the listener, so a step may report progress
as often as it likes at the cost of a few arithmetic operations per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

__all__ = ["WeightedProgress", "ProgressListener"]

ProgressListener = Callable[[int, str | None, float | None, float | None], None]
"""Called as ``listener(percent, step, current, total)`` each time the percentage changes."""


class WeightedProgress:
    """Tracks overall progress across steps with the given weights.

    Usage: ``start_step(i, name)``, any number of ``step_progress(current, total)``, then
    ``finish_step()``; repeat for the next step.
    """

    __slots__ = ("_bounds", "_hi", "_last", "_listener", "_lo", "_span", "_step")

    def __init__(self, weights: Sequence[float], listener: ProgressListener) -> None:
        total = math.fsum(weights)
        if total <= 0:
            weights = [1.0] * len(weights)
            total = float(len(weights))
        bounds = [0.0]
        running = 0.0
        for weight in weights:
            running += weight
            bounds.append(running / total)
        if len(bounds) > 1:
            bounds[-1] = 1.0  # absorb float drift so the last step ends exactly at 100
        self._bounds = bounds
        self._listener = listener
        self._last = -1
        self._lo = 0.0
        self._hi = 0.0
        self._span = 0.0
        self._step: str | None = None

    @property
    def percent(self) -> int:
        """The last reported percentage (``-1`` before anything was reported)."""
        return self._last

    def start_step(self, index: int, name: str) -> None:
        self._lo = self._bounds[index]
        self._hi = self._bounds[index + 1]
        self._span = self._hi - self._lo
        self._step = name

    def step_progress(self, current: float, total: float) -> None:
        """Move the overall figure inside the current step's band (``current/total`` of it)."""
        if total <= 0:
            return
        fraction = current / total
        if fraction < 0.0 or fraction != fraction:  # negative or NaN: nothing to report
            return
        if fraction > 1.0:
            fraction = 1.0
        percent = round(100 * (self._lo + self._span * fraction))
        if percent > self._last:
            self._last = percent
            self._listener(percent, self._step, current, total)

    def finish_step(self) -> None:
        """Report the end of the current step's band (always reported, even if unchanged)."""
        percent = max(self._last, round(100 * self._hi))
        self._last = percent
        self._listener(percent, self._step, None, None)

    def finish_empty(self) -> None:
        """A run with no steps is complete as soon as it starts."""
        self._last = 100
        self._listener(100, None, None, None)
