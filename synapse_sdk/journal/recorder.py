"""JournalRecorder: the :class:`~synapse_sdk.runtime.recorder.StepRecorder` of one run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from synapse_sdk.journal.store import RunJournal, RunRecord, RunState, StepRecord

__all__ = ["UNDONE", "JournalRecorder", "settled_state", "state_of_steps"]


class JournalRecorder:
    """Writes one run's step states to the journal, each durably before returning."""

    def __init__(self, journal: RunJournal, run_id: str) -> None:
        self.journal = journal
        self.run_id = run_id

    def step_started(self, position: int, name: str) -> None:
        self.journal.step_started(self.run_id, position, name)

    def record(self, name: str, key: str, value: Any) -> None:
        self.journal.record(self.run_id, name, key, value)

    def append(self, name: str, key: str, items: Sequence[Any], positions: Sequence[int]) -> None:
        self.journal.append(self.run_id, name, key, items, positions)

    def kept(self, path: str) -> None:
        """Nothing to do: the copy is in this machine's undo area, beside the journal."""

    def step_succeeded(self, name: str, rollback_data: Mapping[str, Any]) -> None:
        self.journal.step_finished(self.run_id, name, "succeeded", rollback_data=rollback_data)

    def step_skipped(self, name: str) -> None:
        self.journal.step_finished(self.run_id, name, "skipped")

    def step_failed(self, name: str, error: str, traceback: str | None = None) -> None:
        self.journal.step_finished(self.run_id, name, "failed", error=error, traceback=traceback)

    def step_rolled_back(self, name: str) -> None:
        self.journal.step_finished(self.run_id, name, "rolled_back")

    def rollback_failed(self, name: str, error: str) -> None:
        self.journal.step_finished(self.run_id, name, "rollback_failed", error=error)


UNDONE = frozenset({"skipped", "rolled_back", "rollback_failed"})
"""Step states that need no (further) rollback."""


def settled_state(run: RunRecord, *, interrupted: bool) -> RunState:
    """The final state of a run that did not succeed, from its steps' states.

    ``rolled_back`` when every step that ran was rolled back, ``rollback_failed`` when a
    rollback raised, ``needs_rollback`` while some step that ran is not undone yet. A run
    with no journalled step is ``rolled_back`` when it was interrupted (or crashed): it
    was stopped, and there is nothing to undo; and ``failed`` when it failed on its own
    before its first step (an invalid plan, a plugin's hook).
    """
    return state_of_steps(run.steps, interrupted=interrupted)


def state_of_steps(steps: Sequence[StepRecord], *, interrupted: bool) -> RunState:
    """:func:`settled_state` of any set of steps: one run's, or all of a pipeline's actions'."""
    states = {step.state for step in steps}
    if not steps:
        return "rolled_back" if interrupted else "failed"
    if not states <= UNDONE:
        return "needs_rollback"
    return "rollback_failed" if "rollback_failed" in states else "rolled_back"
