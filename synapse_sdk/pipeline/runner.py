"""Running a pipeline as one journalled run, with a child run per action.

:func:`run_pipeline` checks the whole pipeline (:func:`check_pipeline`), journals a
``pipeline`` run, and runs each action through
:func:`~synapse_sdk.run.runner.run_journalled` as a child of it, feeding each the results
of those before it. When an action fails (or a signal stops it) that action is rolled back
first, by its own orchestrator (or, stopped after its last step, from the journal by
:func:`~synapse_sdk.run.runner.run_journalled`); then every action that completed is
undone, last first, from the journal's records
(:class:`~synapse_sdk.journal.recovery.JournalledUndo`), unless ``keep_completed`` asks to
keep them for :func:`resume_pipeline`.

The pipeline run's state is the truth about all of its actions: ``succeeded``;
``rolled_back`` when every step of every action that ran is undone; ``failed`` when the
completed actions were kept on purpose; ``rollback_failed`` or ``needs_rollback`` as for a
single run (``synapse runs rollback`` finishes the latter, across actions).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from synapse_sdk.actions.base import BaseAction
from synapse_sdk.actions.catalog import class_reference
from synapse_sdk.errors import (
    PipelineError,
    PipelineFailedError,
    RecoveryError,
    RunAbandoned,
    RunInUseError,
    SynapseError,
    describe_error,
)
from synapse_sdk.host.manager import PluginHost, plugin_host
from synapse_sdk.interrupts import cancellation_handlers, critical_section, received, run_settled
from synapse_sdk.journal.recorder import state_of_steps
from synapse_sdk.journal.recovery import JournalledUndo, working_directory
from synapse_sdk.journal.store import LIVE_STATES, RunJournal, RunRecord, RunState
from synapse_sdk.pipeline.definition import Pipeline
from synapse_sdk.pipeline.handoffs import CheckedStage, check_pipeline, stage_params
from synapse_sdk.pipeline.progress import PipelineProgress, bands
from synapse_sdk.run.runner import Placement, modules_of, place, run_journalled, ship
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.events import ProgressEvent
from synapse_sdk.runtime.redacted import REDACTED
from synapse_sdk.runtime.secrets import deep_merge, redact, secret_paths
from synapse_sdk.storage.undo_area import discard_undo_area, keeps_undo_area
from synapse_sdk.storage.urls import url_protocols

__all__ = ["action_weights", "resume_pipeline", "rollback_pipeline", "run_pipeline"]

RESUMABLE: frozenset[str] = frozenset({"failed", "needs_rollback"})
"""Pipeline states :func:`resume_pipeline` continues from."""


def _redacted_params(action_class: type[BaseAction[Any]], params: Mapping[str, Any]) -> Any:
    """Initial params as the journal keeps them: every secret (by type or name) redacted.

    Fed params are absent, so the params model cannot validate them whole: each field is
    typed on its own to find ``SecretStr`` values; one that does not validate is redacted.
    """
    fields = action_class.params_model.model_fields
    typed: dict[str, Any] = {}
    for key, value in params.items():
        info = fields.get(key)
        if info is None:
            typed[key] = value
            continue
        try:
            typed[key] = TypeAdapter(info.annotation or Any).validate_python(value)
        except Exception:
            typed[key] = REDACTED
    return redact(typed)


def action_weights(
    checked: list[CheckedStage], host: PluginHost, runtime: RuntimeContext
) -> list[float]:
    """Each action's total step weight, from its plan with its initial params."""
    weights = []
    for stage in checked:
        action = stage.action_class.for_planning(
            stage.stage.params, runtime, plugins=host, name=stage.name
        )
        plan = action.plan()
        if not plan.steps:
            raise PipelineError(
                f"action '{stage.id}' has no steps (it runs execute() in one go), so it could "
                "not be undone when a later action fails; only step-based actions can be part "
                "of a pipeline"
            )
        weights.append(sum(step.weight for step in plan.steps))
    return weights


@dataclass
class _PipelineRun:
    """One pipeline run in progress: what it needs to run actions and to undo them."""

    run_id: str
    journal: RunJournal
    runtime: RuntimeContext
    host: PluginHost
    checked: list[CheckedStage]
    weights: list[float]
    """Each action's total step weight: its band of the pipeline's progress."""
    placement: Placement = field(default_factory=Placement)
    keep_completed: bool = False
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each action's params before hand-offs, by id (default: the checked pipeline's)."""
    results: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, BaseAction[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.params:
            self.params = {stage.id: dict(stage.stage.params) for stage in self.checked}
        self.progress = PipelineProgress(self.runtime.sinks)
        self.bands = bands(self.weights)

    def child_runtime(self, position: int) -> RuntimeContext:
        runtime = self.runtime
        low, high = self.bands[position]
        sinks = [self.progress.band(self.checked[position].id, low, high)] if runtime.sinks else []
        child = RuntimeContext(
            logger=runtime.logger, sinks=sinks, env=runtime.env, settings=runtime.settings
        )
        child.executor = runtime.executor  # the caller's choice of executor holds for each
        return child

    def build(self, position: int, params: Mapping[str, Any]) -> BaseAction[Any]:
        stage = self.checked[position]
        return stage.action_class(
            params, self.child_runtime(position), plugins=self.host, name=stage.name
        )

    def run_from(self, first: int) -> dict[str, Any]:
        """Run the actions from ``first`` on; settle the pipeline run whatever happens.

        Called inside the caller's :func:`cancellation_handlers`, once the pipeline run is
        journalled as this process's.
        """
        failed_at = first
        try:
            for position in range(first, len(self.checked)):
                failed_at = position
                stage = self.checked[position]
                params = stage_params(stage, self.params[stage.id], self.results)
                action = self.actions[stage.id] = self.build(position, params)
                outcome = run_journalled(
                    action, self.journal, self.placement, parent=self.run_id, stage=stage.id
                )
                self.outcomes[stage.id] = outcome
                self.results[stage.id] = outcome.get("result")
            # Inside the `try`: a signal after the last action, before this write, still
            # undoes every action.
            with critical_section():
                self.journal.end_run(self.run_id, "succeeded")
                run_settled()
        except BaseException as exc:
            received(exc)  # what undoing the actions raises from now on is its own error
            self.settle_failure(self.checked[failed_at].id, exc)
            raise
        self.discard_undo_areas(self.journal.children(self.run_id))
        return {"success": True, "run_id": self.run_id, "actions": self.outcomes}

    def settle_failure(self, failed: str, exc: BaseException) -> None:
        """Undo (or keep) the completed actions, journal the pipeline's state, raise."""
        interrupted = not isinstance(exc, Exception)
        try:
            if not self.keep_completed and not isinstance(exc, RunAbandoned):
                self.undo_completed()
        except BaseException as second:  # RunAbandoned: a second signal, leave the rest
            with critical_section():
                self.end(interrupted=True, error=describe_error(exc))
                run_settled()
            raise second from exc
        with critical_section():
            state = self.end(interrupted=interrupted, error=describe_error(exc))
            run_settled()
        if isinstance(exc, Exception):
            error = str(exc) if isinstance(exc, SynapseError) else describe_error(exc)
            raise PipelineFailedError(self.run_id, failed, state, error) from exc

    def owned(self) -> bool:
        """Whether the journal has this pipeline run as this live process's (to settle)."""
        record = self.journal.get_run(self.run_id)
        return record is not None and record.state in LIVE_STATES and record.pid == os.getpid()

    def settle_if_owned(self, exc: BaseException, *, state: RunState | None = None) -> None:
        """Settle the run after ``exc`` stopped it before its actions, if it is ours.

        ``state`` puts back the state it had before this process claimed it; by default
        the state its actions' steps show.
        """
        if not self.owned():  # never journalled, or claimed by someone else
            return
        with critical_section():
            if state is not None:
                self.journal.end_run(self.run_id, state, error=describe_error(exc))
            else:
                self.end(interrupted=not isinstance(exc, Exception), error=describe_error(exc))
            run_settled()

    def undo_completed(self) -> None:
        """Undo every succeeded action of this run, last first, from the journal's records."""
        for child in reversed(self.journal.children(self.run_id)):
            if child.state != "succeeded" or child.stage not in self.actions:
                continue
            self.runtime.log("pipeline_undo_action", {"action": child.stage})
            close_child(self.journal, child, self.actions[child.stage])

    def end(self, *, interrupted: bool, error: str) -> RunState:
        children = self.journal.children(self.run_id)
        state = state_of_steps(
            [step for child in children for step in child.steps], interrupted=interrupted
        )
        if self.keep_completed and state == "needs_rollback" and _only_kept(children):
            state = "failed"  # the completed actions' outputs are kept on purpose
        self.journal.end_run(self.run_id, state, error=error)
        if state not in RESUMABLE:
            self.discard_undo_areas(children)
        return state

    def discard_undo_areas(self, children: list[RunRecord]) -> None:
        """Drop the content the actions replaced: no rollback of this pipeline is to come.

        An action whose rollback failed keeps its area (see :func:`keeps_undo_area`).
        """
        for child in children:
            if not keeps_undo_area(child.state):
                discard_undo_area(self.runtime.settings, child.run_id)


def _only_kept(children: list[RunRecord]) -> bool:
    """Whether every step still to undo belongs to an action that succeeded (kept whole)."""
    return all(
        child.state == "succeeded"
        or state_of_steps(child.steps, interrupted=True) != "needs_rollback"
        for child in children
    )


def _pending(child: RunRecord) -> bool:
    """Whether an action run has steps that ran and are not undone yet."""
    return state_of_steps(child.steps, interrupted=True) == "needs_rollback"


def _unsettled(child: RunRecord) -> bool:
    """Whether an action run still needs undoing or closing: pending steps, or left open."""
    return _pending(child) or child.state in ("succeeded", "needs_rollback")


def close_child(journal: RunJournal, child: RunRecord, action: BaseAction[Any] | None) -> None:
    """Undo one action run of a pipeline by ``action`` (None: nothing to undo); settle it.

    An action run killed before its first step has nothing to undo, but is still open in
    the journal: it is closed too, so that no action of a settled pipeline stays unsettled.
    """
    journal.take_over(child.run_id, "rolling_back")
    if action is not None:
        JournalledUndo.of(child, action).roll_back(journal, child.run_id)
    with critical_section():
        after = journal.get_run(child.run_id)
        assert after is not None
        journal.end_run(child.run_id, state_of_steps(after.steps, interrupted=True))


def _spec(pipeline: Pipeline, checked: list[CheckedStage]) -> dict[str, Any]:
    """What the journal keeps of a pipeline: enough to resume or undo it, secrets redacted."""
    spec = pipeline.to_dict()
    for entry, stage in zip(spec["actions"], checked, strict=True):
        entry["params"] = _redacted_params(stage.action_class, stage.stage.params)
        entry["target"] = class_reference(stage.action_class)
    return spec


def _placed(
    checked: list[CheckedStage],
    host: PluginHost,
    runtime: RuntimeContext,
    executor: str,
    ray_address: str | None,
    ship_code: bool,
) -> Placement:
    """Where the pipeline's actions run: Ray joined and one environment shipped for all."""
    placement = Placement.of(executor, ray_address, ship=ship_code)
    place(placement, runtime.settings)
    modules = [module for stage in checked for module in modules_of(stage.action_class, host)]
    protocols = url_protocols([stage.stage.params for stage in checked])
    return ship(placement, modules, runtime.settings, protocols)


def _open(journal: RunJournal | None, runtime: RuntimeContext) -> tuple[RunJournal, bool]:
    if journal is not None:
        return journal, False
    return RunJournal(runtime.settings.journal_path), True


def run_pipeline(
    pipeline: Pipeline,
    *,
    ctx: RuntimeContext | None = None,
    plugins: PluginHost | None = None,
    journal: RunJournal | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    keep_completed: bool = False,
    ship_code: bool = True,
) -> dict[str, Any]:
    """Check ``pipeline``, then run its actions in order as one journalled run.

    Returns ``{'success': True, 'run_id': ..., 'actions': {id: result}}``, each result as
    :func:`~synapse_sdk.plugins.run_action` returns it (``'result'`` holds what the
    action handed on). The pipeline's run id is ``ctx.job_id`` unless one was set.

    Raises:
        PipelineError: the pipeline cannot run as defined; nothing ran.
        ActionNotFoundError, ActionLoadError: an action cannot be resolved; nothing ran.
        PipelineFailedError: an action failed; see its ``state`` for what was undone.
        KeyboardInterrupt, RunTerminated: a signal stopped it, after the rollback.
    """
    runtime = ctx if ctx is not None else RuntimeContext()
    checked = check_pipeline(pipeline, runtime.settings)
    host = plugins if plugins is not None else plugin_host(runtime.settings)
    weights = action_weights(checked, host, runtime)
    placement = _placed(checked, host, runtime, executor, ray_address, ship_code)
    journal, owned = _open(journal, runtime)
    try:
        with cancellation_handlers():
            run = _PipelineRun(
                uuid.uuid4().hex[:12],
                journal,
                runtime,
                host,
                checked,
                weights,
                placement,
                keep_completed,
            )
            try:  # a signal held by the journal's transaction is raised as it ends
                journal.start_run(
                    pipeline.name, _spec(pipeline, checked), run_id=run.run_id, kind="pipeline"
                )
                if runtime.job_id is None:
                    runtime.job_id = run.run_id
            except BaseException as exc:
                run.settle_if_owned(exc)
                raise
            return run.run_from(0)
    finally:
        if owned:
            journal.close()


def _pipeline_record(journal: RunJournal, run_id: str) -> RunRecord:
    run = journal.get_run(run_id)
    if run is None:
        known = ", ".join(r.run_id for r in journal.list_runs(limit=5, top_level=True)) or "none"
        raise RecoveryError(f"no run with id '{run_id}' in {journal.path}; recent runs: {known}")
    if run.kind != "pipeline":
        raise RecoveryError(f"run '{run_id}' is a run of one action, not of a pipeline")
    if run.state in LIVE_STATES:
        raise RunInUseError(run_id, run.state, run.pid, run.host)
    return run


def _rebuilt(run: RunRecord, supplied: Mapping[str, Any]) -> Pipeline:
    """The pipeline of a journalled run, with the params supplied again merged in by id."""
    spec = run.params
    unknown = sorted(set(supplied) - {entry["id"] for entry in spec["actions"]})
    if unknown:
        raise RecoveryError(
            f"params are given for {', '.join(unknown)}, which pipeline run '{run.run_id}' "
            "does not have; key the params file by the pipeline's action ids"
        )
    entries = [
        {
            "id": entry["id"],
            "action": entry.get("target") or entry["action"],
            "params": deep_merge(entry["params"], supplied.get(entry["id"], {})),
        }
        for entry in spec["actions"]
    ]
    return Pipeline.from_dict(
        {"name": spec["name"], "actions": entries, "mappings": spec["mappings"]},
        source=f"pipeline run {run.run_id}",
    )


def _state(run: RunRecord | None) -> str | None:
    return None if run is None else run.state


def _latest(children: list[RunRecord]) -> dict[str, RunRecord]:
    latest: dict[str, RunRecord] = {}
    for child in children:  # oldest first: a rerun replaces its failed attempt
        if child.stage is not None:
            latest[child.stage] = child
    return latest


def resume_pipeline(
    journal: RunJournal,
    run_id: str,
    *,
    ctx: RuntimeContext | None = None,
    plugins: PluginHost | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    keep_completed: bool = False,
    ship_code: bool = True,
) -> dict[str, Any]:
    """Continue a ``failed`` or interrupted (``needs_rollback``) pipeline run.

    Actions that completed are skipped and their journalled results feed the next ones.
    The first action that did not complete is undone where it left work behind (as are
    any after it), then runs again from its start, as a new child run of the same pipeline
    run. ``params`` (by action id) supplies again what the journal keeps only redacted.

    Raises:
        RecoveryError: no such pipeline run, one that cannot be resumed, or secrets missing.
        RunInUseError: a live process owns the run.
        PipelineFailedError: an action failed again.
    """
    run = _pipeline_record(journal, run_id)
    if run.state not in RESUMABLE:
        raise RecoveryError(
            f"pipeline run '{run_id}' is {run.state}; only a failed or interrupted pipeline "
            "that was not rolled back can be resumed"
        )
    runtime = ctx if ctx is not None else RuntimeContext()
    pipeline = _rebuilt(run, params or {})
    checked = check_pipeline(pipeline, runtime.settings)
    children = journal.children(run_id)
    latest = _latest(children)
    first = next(
        (i for i, stage in enumerate(checked) if _state(latest.get(stage.id)) != "succeeded"),
        len(checked),
    )
    results: dict[str, Any] = {}
    earlier: dict[str, Any] = {}
    for stage in checked[:first]:
        child = latest[stage.id]
        results[stage.id] = child.result
        earlier[stage.id] = {"success": True, "completed_earlier": child.run_id}
        if child.result is not None:
            earlier[stage.id]["result"] = child.result
    _check_resumable(run_id, checked[first:], results)
    host = plugins if plugins is not None else plugin_host(runtime.settings)
    pipeline_run = _PipelineRun(
        run_id,
        journal,
        runtime,
        host,
        checked,
        action_weights(checked, host, runtime),
        Placement.of(executor, ray_address, ship=ship_code),
        keep_completed,
        results=results,
        outcomes=earlier,
    )
    # Every action that may have to be undone is rebuilt now, before the run is claimed:
    # a secret missing for one of them is an error that changes nothing.
    if not keep_completed:  # a failure would undo the completed actions too
        for position, stage in enumerate(checked[:first]):
            pipeline_run.actions[stage.id] = _child_action(latest[stage.id], pipeline_run, position)
    unfinished = _unfinished(children, pipeline_run, first)
    pipeline_run.placement = _placed(checked, host, runtime, executor, ray_address, ship_code)
    with cancellation_handlers(), working_directory(run):
        try:
            claimed = journal.claim_run(run_id, claimable=RESUMABLE, as_state="running")
            if claimed not in RESUMABLE:
                raise RecoveryError(f"pipeline run '{run_id}' is {claimed}; it cannot be resumed")
            if [(c.run_id, c.state) for c in journal.children(run_id)] != [
                (c.run_id, c.state) for c in children
            ]:  # another process resumed it between our reading and our claim
                raise RecoveryError(f"pipeline run '{run_id}' changed meanwhile; try again")
        except BaseException as exc:
            pipeline_run.settle_if_owned(exc, state=run.state)  # nothing changed: as it was
            raise
        try:
            if runtime.job_id is None:
                runtime.job_id = run_id
            if first:  # the bar starts where the completed actions left it
                pipeline_run.progress.advance(
                    round(pipeline_run.bands[first - 1][1]),
                    ProgressEvent(0, checked[first - 1].id),
                )
            for child, action in unfinished:
                close_child(journal, child, action)
        except BaseException as exc:
            pipeline_run.settle_if_owned(exc)
            raise
        return pipeline_run.run_from(first)


def _check_resumable(run_id: str, to_run: list[CheckedStage], results: Mapping[str, Any]) -> None:
    """Refuse a resume that lacks secrets, before anything is claimed or undone."""
    missing = [
        f"{stage.id}.{path}" for stage in to_run for path in secret_paths(dict(stage.stage.params))
    ]
    if missing:
        raise RecoveryError(
            f"pipeline run '{run_id}' had secret params ({', '.join(missing)}) that the journal "
            "does not keep; pass them again with --params-file, keyed by action id"
        )
    lost = [
        f"{feed.source}.{feed.field}"
        for stage in to_run
        for feed in stage.feeds
        if feed.source in results
        and REDACTED in json.dumps((results[feed.source] or {}).get(feed.field))
    ]
    if lost:
        raise RecoveryError(
            f"pipeline run '{run_id}' cannot be resumed: the results {', '.join(lost)} were "
            "secrets, which the journal does not keep. Roll it back (synapse runs rollback "
            f"{run_id}) and run the pipeline again"
        )


def _unfinished(
    children: list[RunRecord], run: _PipelineRun, first: int
) -> list[tuple[RunRecord, BaseAction[Any] | None]]:
    """What the actions from ``first`` on left behind, last first, to undo before they rerun."""
    rerun = {stage.id: position for position, stage in enumerate(run.checked) if position >= first}
    return [
        (child, _child_action(child, run, rerun[child.stage]) if _pending(child) else None)
        for child in reversed(children)
        if child.stage in rerun and _unsettled(child)
    ]


def _child_action(child: RunRecord, run: _PipelineRun, position: int) -> BaseAction[Any]:
    """The action of a journalled child run, rebuilt from its own journalled params."""
    supplied = run.params[run.checked[position].id]
    params = deep_merge(child.params, {k: v for k, v in supplied.items() if k in child.params})
    missing = secret_paths(params)
    if missing:
        raise RecoveryError(
            f"action '{child.stage}' of pipeline run '{run.run_id}' had secret params "
            f"({', '.join(missing)}) that the journal does not keep; pass them again with "
            "--params-file, keyed by action id"
        )
    action = run.build(position, params)
    action.ctx.job_id = child.run_id  # its undo area, where a worker elsewhere sent copies
    return action


def rollback_pipeline(
    journal: RunJournal,
    run_id: str,
    *,
    ctx: RuntimeContext | None = None,
    plugins: PluginHost | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> RunRecord:
    """Undo everything a pipeline run did, across its actions, each step exactly once.

    For a run that a crash left ``needs_rollback``, or a ``failed`` one whose completed
    actions were kept. Each action is rebuilt from its own journalled params (``params``,
    by action id, supplies secrets again) and its steps that ran and are not undone yet
    are rolled back, last action first. Every rollback is journalled as it finishes, so
    doing it again after another crash never undoes a step twice.

    Raises:
        RecoveryError: no such pipeline run, one with nothing to undo, or secrets missing.
        RunInUseError: a live process owns the run.
    """
    run = _pipeline_record(journal, run_id)
    if run.state not in RESUMABLE:
        raise RecoveryError(
            f"pipeline run '{run_id}' is {run.state}; only an unfinished or failed pipeline "
            "run needs a rollback"
        )
    runtime = ctx if ctx is not None else RuntimeContext()
    runtime.job_id = run_id
    supplied = dict(params or {})
    pipeline = _rebuilt(run, supplied)
    checked = check_pipeline(pipeline, runtime.settings)
    host = plugins if plugins is not None else plugin_host(runtime.settings)
    pipeline_run = _PipelineRun(
        run_id,
        journal,
        runtime,
        host,
        checked,
        [1.0] * len(checked),  # nothing runs forward: the bands are never drawn
        params={stage.id: dict(supplied.get(stage.id, {})) for stage in checked},
    )
    position = {stage.id: index for index, stage in enumerate(checked)}
    undos = [
        (
            child,
            _child_action(child, pipeline_run, position[child.stage or ""])
            if _pending(child)
            else None,
        )
        for child in reversed(journal.children(run_id))
        if _unsettled(child)
    ]
    with cancellation_handlers(), working_directory(run):
        try:
            claimed = journal.claim_run(run_id, claimable=RESUMABLE)
            if claimed not in RESUMABLE:
                raise RecoveryError(f"pipeline run '{run_id}' is {claimed}; nothing to roll back")
            for child, action in undos:
                latest = journal.get_run(child.run_id)
                assert latest is not None
                close_child(journal, latest, action)
        finally:
            if pipeline_run.owned():
                with critical_section():
                    pipeline_run.end(interrupted=True, error=run.error or "rolled back")
                    run_settled()
    finished = journal.get_run(run_id)
    assert finished is not None
    return finished
