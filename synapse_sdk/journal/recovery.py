"""Finishing a run that a crash left unfinished: roll back from the journal alone.

A run killed with ``kill -9`` (or by a power loss, or whose rollback was interrupted by a
second Ctrl-C) is ``needs_rollback`` in the journal. :func:`rollback_run` rebuilds the
action from the journal (its name and params, with secrets supplied again by the caller),
rebuilds its plan, and calls ``rollback`` on every step that ran and is not undone yet, in
reverse order, with the ``rollback_data`` the journal holds. Each rollback is journalled
as it finishes, so running it again after another crash never undoes a step twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from synapse_sdk.actions.base import ActionContext, BaseAction
from synapse_sdk.actions.catalog import build_action
from synapse_sdk.engine.base import BaseStep
from synapse_sdk.engine.result import StepResult
from synapse_sdk.engine.rollback import roll_back_steps
from synapse_sdk.engine.utility import StepWrapper
from synapse_sdk.errors import RecoveryError, RunInUseError
from synapse_sdk.host.manager import PluginHost
from synapse_sdk.interrupts import cancellation_handlers, critical_section, run_settled
from synapse_sdk.journal.recorder import UNDONE, JournalRecorder, settled_state
from synapse_sdk.journal.store import LIVE_STATES, RunJournal, RunRecord, StepRecord
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.secrets import deep_merge, secret_paths
from synapse_sdk.storage.undo_area import discard_undo_area, keeps_undo_area

__all__ = ["JournalledUndo", "RecoveryError", "rollback_run", "working_directory"]


def _steps_by_name(steps: list[BaseStep[Any]]) -> dict[str, BaseStep[Any]]:
    """Steps by their registry name and, where unambiguous, by each wrapper's own name.

    The journal holds the name a step ran under, which is the one its action registered;
    a run journalled before plugins' wrappers kept that name has ``timed_upload`` where
    the plan now has ``upload``, and the wrapper's own name still finds it.
    """
    by_name = {step.name: step for step in steps}
    layers: dict[str, dict[int, BaseStep[Any]]] = {}
    for step in steps:
        layer = step
        while isinstance(layer, StepWrapper):
            layer = layer.inner
            layers.setdefault(layer.name, {})[id(step)] = step
    for name, found in layers.items():
        if len(found) == 1:
            [step] = found.values()
            by_name.setdefault(name, step)
    return by_name


def _pending(run: RunRecord) -> list[StepRecord]:
    """The steps of ``run`` that ran and are not undone yet, last first."""
    return [step for step in reversed(run.steps) if step.state not in UNDONE]


@contextmanager
def working_directory(run: RunRecord) -> Iterator[None]:
    """Run the block in the folder the run started in, so its relative paths mean the same."""
    if run.cwd is None:  # journalled by an older version, which did not record it
        yield
        return
    if not os.path.isdir(run.cwd):
        raise RecoveryError(
            f"run '{run.run_id}' ran in {run.cwd}, which no longer exists; its relative paths "
            "would point elsewhere. Recreate that folder (empty is fine), then try again"
        )
    previous = os.getcwd()
    os.chdir(run.cwd)
    try:
        yield
    finally:
        os.chdir(previous)


def rollback_run(
    journal: RunJournal,
    run_id: str,
    *,
    plugins: PluginHost,
    ctx: RuntimeContext | None = None,
    params: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Roll back an unfinished run; return its record with the final state.

    Args:
        journal: the journal holding the run.
        run_id: the run to roll back.
        plugins: the plugin host used to rebuild the plan (the same plugins as the run).
        ctx: runtime context for the rollback (logs, sinks).
        params: params overriding the journalled ones; required for secret fields, which
            the journal only holds redacted.

    Raises:
        RecoveryError: unknown run, a run that does not need rollback, secrets missing, or
            a journalled step the rebuilt plan does not have.
        RunInUseError: a live process is running the run or rolling it back.
    """
    run = journal.get_run(run_id)
    if run is None:
        known = ", ".join(record.run_id for record in journal.list_runs(limit=5)) or "none"
        raise RecoveryError(f"no run with id '{run_id}' in {journal.path}; recent runs: {known}")
    if run.parent is not None:
        raise RecoveryError(
            f"run '{run_id}' is the action '{run.action}' of pipeline run '{run.parent}'; "
            f"roll back the whole pipeline: synapse runs rollback {run.parent}"
        )
    if run.kind == "pipeline":
        raise RecoveryError(
            f"run '{run_id}' is a pipeline run; roll it back with "
            "synapse_sdk.pipeline.rollback_pipeline (synapse runs rollback does)"
        )
    if run.state in LIVE_STATES:
        raise RunInUseError(run_id, run.state, run.pid, run.host)
    if run.state != "needs_rollback":
        raise RecoveryError(f"run '{run_id}' is {run.state}; only unfinished runs need a rollback")
    merged = deep_merge(run.params, params or {})
    missing = secret_paths(merged)
    if missing:
        raise RecoveryError(
            f"run '{run_id}' had secret params ({', '.join(missing)}) that the journal does not "
            "keep; pass them again with --params-file (only those: the rest is merged in "
            "from the journal)"
        )

    with cancellation_handlers(), working_directory(run):
        return _roll_back(journal, run, merged, plugins, ctx)


def _roll_back(
    journal: RunJournal,
    run: RunRecord,
    params: Mapping[str, Any],
    plugins: PluginHost,
    ctx: RuntimeContext | None,
) -> RunRecord:
    run_id = run.run_id
    runtime = ctx if ctx is not None else RuntimeContext()
    runtime.job_id = run_id
    action = build_action(run.target or run.action, params, runtime, plugins, name=run.action)
    undo = JournalledUndo.of(run, action)

    state = journal.claim_run(run_id)  # atomic: of two processes, one gets the run
    if state != "needs_rollback":
        raise RecoveryError(f"run '{run_id}' is {state}; only unfinished runs need a rollback")
    undo.roll_back(journal, run_id)
    with critical_section():
        final = journal.get_run(run_id)
        assert final is not None
        state = settled_state(final, interrupted=True)  # a crash is an interruption
        journal.end_run(run_id, state, error=run.error)
        run_settled()
    if not keeps_undo_area(state):  # every step is undone
        discard_undo_area(runtime.settings, run_id)
    finished = journal.get_run(run_id)
    assert finished is not None
    return finished


@dataclass(frozen=True)
class JournalledUndo:
    """The rollback of a journalled run's steps by its rebuilt action, from the records alone.

    :meth:`of` checks that the action's plan has every step the run still has to undo
    (before anything is claimed or undone); :meth:`roll_back` then undoes them, last
    first, each journalled as it finishes, so that doing it again after a crash never
    undoes a step twice. Recovery uses it for one run, a pipeline for each of its actions.
    """

    action: BaseAction[Any]
    context: ActionContext[Any]
    steps: dict[str, BaseStep[Any]]

    @classmethod
    def of(cls, run: RunRecord, action: BaseAction[Any]) -> JournalledUndo:
        """The undo of ``run`` by ``action`` (built from the run's name and params).

        Raises:
            RecoveryError: a step to undo that the rebuilt plan does not have.
        """
        steps = _steps_by_name(action.plan().registry.get_steps())
        unknown = [step.name for step in _pending(run) if step.name not in steps]
        if unknown:
            raise RecoveryError(
                f"the plan of '{run.action}' has no step named {', '.join(unknown)}; install "
                "the same plugins (and versions) as the original run, then try again"
            )
        return cls(action, action.create_context(), steps)

    def roll_back(self, journal: RunJournal, run_id: str) -> None:
        """Undo every step of ``run_id`` that ran and is not undone yet, as the journal says now."""
        run = journal.get_run(run_id)  # what the journal says now, not what it said before
        assert run is not None
        to_undo = [
            (
                record.name,
                self.steps[record.name],
                StepResult(
                    success=record.state == "succeeded",
                    error=record.error,
                    rollback_data=dict(record.rollback_data),
                ),
            )
            for record in _pending(run)
        ]
        runtime = self.action.ctx
        previous, runtime.recorder = runtime.recorder, JournalRecorder(journal, run_id)
        try:
            roll_back_steps(self.context, to_undo)
        finally:
            runtime.recorder = previous
