"""StepRegistry: the ordered list of steps a workflow runs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Generic

from synapse_sdk.engine.base import BaseStep, C

__all__ = ["StepRegistry"]


class StepRegistry(Generic[C]):
    """An ordered collection of uniquely named steps.

    Every mutation validates at the call that would break the registry: a non-step raises
    ``TypeError``; a duplicate name, an unknown name or anchor, or a weight that is
    negative, NaN or infinite raises ``ValueError``.
    """

    def __init__(self) -> None:
        self._steps: list[BaseStep[C]] = []

    def register(self, step: BaseStep[C]) -> None:
        """Append ``step`` at the end."""
        self._steps.append(self._checked(step))

    def unregister(self, name: str) -> BaseStep[C]:
        """Remove the step called ``name`` and return it."""
        return self._steps.pop(self._index(name))

    def insert_before(self, name: str, step: BaseStep[C]) -> None:
        """Insert ``step`` just before the step called ``name``."""
        checked = self._checked(step)
        self._steps.insert(self._index(name), checked)

    def insert_after(self, name: str, step: BaseStep[C]) -> None:
        """Insert ``step`` just after the step called ``name``."""
        checked = self._checked(step)
        self._steps.insert(self._index(name) + 1, checked)

    def replace(self, name: str, step: BaseStep[C]) -> BaseStep[C]:
        """Put ``step`` in place of the step called ``name`` (names may differ); return the old one.

        This is how wrappers are applied: the wrapper takes the wrapped step's slot.
        """
        index = self._index(name)
        checked = self._checked(step, replacing=name)
        old, self._steps[index] = self._steps[index], checked
        return old

    def get(self, name: str) -> BaseStep[C]:
        """The step called ``name``."""
        return self._steps[self._index(name)]

    def get_steps(self) -> list[BaseStep[C]]:
        """A copy of the steps, in run order."""
        return list(self._steps)

    @property
    def names(self) -> list[str]:
        """Step names, in run order."""
        return [step.name for step in self._steps]

    @property
    def total_weight(self) -> float:
        """Sum of the steps' progress weights (``inf`` if finite weights overflow the sum)."""
        try:
            return math.fsum(step.progress_weight for step in self._steps)
        except OverflowError:
            return math.inf

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[BaseStep[C]]:
        return iter(list(self._steps))

    def __contains__(self, name: object) -> bool:
        return any(step.name == name for step in self._steps)

    def __repr__(self) -> str:
        return f"StepRegistry({self.names!r})"

    def _index(self, name: str) -> int:
        for index, step in enumerate(self._steps):
            if step.name == name:
                return index
        known = ", ".join(self.names) or "none"
        raise ValueError(f"no step named {name!r} in the registry; registered steps: {known}")

    def _checked(self, step: object, replacing: str | None = None) -> BaseStep[C]:
        if not isinstance(step, BaseStep):
            if isinstance(step, type) and issubclass(step, BaseStep):
                raise TypeError(
                    f"expected a BaseStep instance, got the class {step.__name__}. "
                    f"Have you forgotten the () after {step.__name__}?"
                )
            raise TypeError(f"expected a BaseStep instance, got {type(step).__name__!r}")
        name = step.name
        if not isinstance(name, str) or not name:
            raise ValueError(f"step {type(step).__name__} must have a non-empty string name")
        if name != replacing and name in self:
            raise ValueError(
                f"a step named {name!r} is already registered; step names must be unique"
            )
        weight = step.progress_weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise TypeError(f"progress_weight of step {name!r} must be a number, got {weight!r}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(
                f"progress_weight of step {name!r} must be a finite number >= 0, got {weight!r}"
            )
        return step
