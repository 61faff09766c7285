"""The run pipeline: resolve → validate → place → journal → execute → settle.

Every way of running an action goes through these stages: ``synapse run``, ``run_action``,
the ``synapse_run`` pytest fixture, and (resolve, validate, settle) ``synapse runs
rollback``. Each stage is one function here, with the checks it owns done once:

* :func:`~synapse_sdk.actions.catalog.build_action` resolves the action (a class, an
  installed name, ``DIST:NAME``, ``module:Class``) with the host of the runtime context's
  settings, and validates its params (pydantic): a bad field is an error before anything
  is journalled. Recovery builds the action of a crashed run with it too.
* :meth:`Placement.of` checks the executor and the Ray address once; :func:`place` joins or
  starts Ray once, before the journal, so a missing or unreachable Ray is a usage error.
* :func:`run_journalled` journals the run, executes it where it was placed, and settles
  the journal (``succeeded``, or the state the steps show) whatever happens.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from synapse_sdk.actions.base import BaseAction
from synapse_sdk.actions.catalog import build_action, class_reference
from synapse_sdk.errors import ExecutorError, describe_error
from synapse_sdk.fanout import EXECUTORS
from synapse_sdk.fanout.ray_cluster import connect, import_ray
from synapse_sdk.host.manager import PluginHost
from synapse_sdk.interrupts import cancellation_handlers, critical_section, run_settled
from synapse_sdk.journal.recorder import JournalRecorder, settled_state
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.secrets import redact
from synapse_sdk.runtime.settings import Settings
from synapse_sdk.storage.undo_area import discard_undo_area

__all__ = ["Placement", "handed_on", "place", "run_action", "run_journalled"]


@dataclass(frozen=True)
class Placement:
    """Where a run goes: ``'local'`` (this process) or ``'ray'`` (a Ray cluster)."""

    executor: str = "local"
    ray_address: str | None = None

    @classmethod
    def of(cls, executor: str | None = None, ray_address: str | None = None) -> Placement:
        """The placement asked for; an address alone means Ray.

        Raises:
            ExecutorError: an unknown executor, or a Ray address for a local run.
        """
        if executor is None:
            executor = "ray" if ray_address else "local"
        if executor not in EXECUTORS:
            raise ExecutorError(
                f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}"
            )
        if ray_address is not None and executor != "ray":
            raise ExecutorError("a Ray address was given for a local run; use executor='ray'")
        return cls(executor, ray_address)


def place(
    placement: Placement, settings: Settings, *, announce: Callable[[str], object] | None = None
) -> None:
    """Join (or start) the Ray cluster of a Ray placement, once; nothing for a local run.

    ``announce`` is told what is about to happen (joining a cluster can take seconds).

    Raises:
        ExecutorError: Ray is not installed, or the cluster cannot be joined.
    """
    if placement.executor != "ray":
        return
    import_ray()
    address = placement.ray_address or settings.ray_address
    if announce is not None:
        announce(f"joining the Ray cluster at {address}" if address else "starting a local Ray")
    connect(address)


def _execute(action: BaseAction[Any], placement: Placement) -> Any:
    """Run ``action`` where it was placed (:func:`place` came first for Ray)."""
    if placement.executor == "ray":
        from synapse_sdk.ray.launch import run_on_ray  # imports Ray, an optional dependency

        return run_on_ray(action)
    return action.run()


def run_journalled(
    action: BaseAction[Any],
    journal: RunJournal,
    placement: Placement | None = None,
    *,
    parent: str | None = None,
    stage: str | None = None,
) -> Any:
    """Run ``action`` with every step recorded in ``journal`` under a new run id.

    ``parent`` is the pipeline run the action is part of, ``stage`` its id there; the
    content its steps replaced is then kept (the pipeline may undo the action later) until
    the pipeline settles. A succeeded run journals its result (``'result'`` of what the
    action returned, secrets redacted), which a resumed pipeline hands on to later actions.

    The run id is also the runtime context's ``job_id`` (set before the run starts). On
    failure the run's final state is derived from its steps: ``rolled_back``,
    ``rollback_failed``, ``failed`` (nothing ran), or ``needs_rollback`` when the rollback
    itself was interrupted (``synapse runs rollback RUN_ID`` finishes it).
    """
    placement = placement if placement is not None else Placement()
    runtime = action.ctx
    run_id = uuid.uuid4().hex[:12]
    previous = runtime.recorder
    # From the journal's first write to its last, a signal rolls the run back: none may
    # leave a journalled run that nobody settles.
    with cancellation_handlers():
        try:
            journal.start_run(
                action.name,
                action.redacted_params(),
                run_id=run_id,
                target=class_reference(type(action)),
                parent=parent,
                stage=stage,
            )
            if runtime.job_id is None:
                runtime.job_id = run_id
            runtime.recorder = JournalRecorder(journal, run_id)
            result = _execute(action, placement)
        except BaseException as exc:
            with critical_section():
                _settle(journal, run_id, exc, runtime.settings)
                run_settled()
            raise
        finally:
            runtime.recorder = previous
        with critical_section():
            journal.end_run(run_id, "succeeded", result=handed_on(result))
            run_settled()
        if parent is None:  # a pipeline's action may still be undone: its pipeline discards
            discard_undo_area(runtime.settings, run_id)
    return result


def handed_on(outcome: object) -> dict[str, Any] | None:
    """The result an action's run returned under ``'result'``, as journalled: JSON, redacted."""
    result = outcome.get("result") if isinstance(outcome, Mapping) else None
    if not isinstance(result, BaseModel):
        return None
    redacted: dict[str, Any] = redact(result)
    return redacted


def _settle(journal: RunJournal, run_id: str, exc: BaseException, settings: Settings) -> None:
    """Journal the end of a run that did not succeed, with the state its steps show."""
    run = journal.get_run(run_id)
    if run is None:  # stopped before the run was journalled: nothing ran
        return
    interrupted = not isinstance(exc, Exception)  # a signal, or sys.exit() somewhere
    state = settled_state(run, interrupted=interrupted)
    journal.end_run(run_id, state, error=describe_error(exc))
    if state != "needs_rollback":  # replaced content is kept only for a rollback to come
        discard_undo_area(settings, run_id)


def run_action(
    action: str | type[BaseAction[Any]],
    params: Mapping[str, Any] | BaseModel | None = None,
    *,
    ctx: RuntimeContext | None = None,
    plugins: PluginHost | None = None,
    journal: RunJournal | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> Any:
    """Validate ``params``, build the action and run it with the installed hook plugins.

    Params are always validated here, before anything runs or is sent to a cluster. With
    ``executor='ray'`` the action runs as a task on the Ray cluster at ``ray_address``
    (default: ``$RAY_ADDRESS``, else a local Ray started on demand); its progress, logs and
    journal records stream back into ``ctx`` while it runs.

    The run is recorded in the run journal (``ctx.settings.journal_path``,
    ``$SYNAPSE_HOME/runs.db``, unless ``journal`` is given); its run id is ``ctx.job_id``.
    While it runs, SIGINT and SIGTERM roll it back.

    Args:
        action: an action class, an installed action's name, or ``"module:Class"``.
        params: a mapping or an instance of the action's params model.
        ctx: the runtime context (logger, sinks); a fresh ``RuntimeContext()`` by default.
        plugins: the plugin host; by default the host of ``ctx.settings``, which loads
            the installed plugins they allow (as the ``synapse`` command does).
        journal: the run journal to record into.
        executor: ``'local'`` (this process; ``context.map`` uses threads) or ``'ray'``.
        ray_address: the Ray cluster to join (HOST:PORT or ``ray://...``); ray only.

    Raises:
        ActionNotFoundError: ``action`` names no installed action.
        InvalidParamsError: the params are invalid (every bad field is listed).
        StepExecutionError: a step failed; the run was rolled back.
        JournalError: the journal cannot be opened or written.
        ExecutorError: unknown executor, Ray not installed, or the cluster unreachable.
    """
    runtime = ctx if ctx is not None else RuntimeContext()
    instance = build_action(action, params, runtime, plugins)
    placement = Placement.of(executor, ray_address)
    place(placement, runtime.settings)
    if journal is not None:
        return run_journalled(instance, journal, placement)
    own_journal = RunJournal(runtime.settings.journal_path)
    try:
        return run_journalled(instance, own_journal, placement)
    finally:
        own_journal.close()
