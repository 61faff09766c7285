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

import contextlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from synapse_sdk.actions.base import BaseAction
from synapse_sdk.actions.catalog import build_action, class_reference
from synapse_sdk.errors import ExecutorError, RunTerminated, describe_error
from synapse_sdk.fanout import EXECUTORS
from synapse_sdk.fanout.ray_cluster import connect, import_ray
from synapse_sdk.host.manager import PluginHost, plugin_host
from synapse_sdk.interrupts import (
    cancellation_handlers,
    critical_section,
    raise_lost_interrupt,
    received,
    run_settled,
    signals_unwrapped,
)
from synapse_sdk.journal.recorder import JournalRecorder, settled_state
from synapse_sdk.journal.recovery import JournalledUndo
from synapse_sdk.journal.store import RunJournal
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.secrets import redact
from synapse_sdk.runtime.settings import Settings
from synapse_sdk.storage.undo_area import discard_undo_area, keeps_undo_area
from synapse_sdk.storage.urls import url_protocols

__all__ = [
    "Placement",
    "handed_on",
    "modules_of",
    "place",
    "run_action",
    "run_journalled",
    "ship",
]


@dataclass(frozen=True)
class Placement:
    """Where a run goes: ``'local'`` (this process) or ``'ray'`` (a Ray cluster).

    For Ray, ``ship`` says whether the run's code goes to the workers in a runtime
    environment (the default; off for clusters provisioned by hand), and ``runtime_env``
    is that environment once :func:`ship` has prepared it.
    """

    executor: str = "local"
    ray_address: str | None = None
    ship: bool = True
    runtime_env: Mapping[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls, executor: str | None = None, ray_address: str | None = None, *, ship: bool = True
    ) -> Placement:
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
        return cls(executor, ray_address, ship)


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


def modules_of(action_class: type[BaseAction[Any]], plugins: PluginHost) -> list[str]:
    """The modules a run imports on a worker: its action class's and its hook plugins'."""
    modules = [action_class.__module__]
    for plugin, _ in plugins.registered():
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        modules.append(module)
    return modules


def ship(
    placement: Placement,
    modules: Iterable[str],
    settings: Settings,
    protocols: Iterable[str] = (),
) -> Placement:
    """Carry ``modules`` (and the SDK) to the workers of a Ray cluster joined by address.

    After :func:`place`, before the run is journalled: the process joins the cluster again
    with a runtime environment holding the code and what the workers lack, and a cluster
    that cannot set it up refuses the run now. Nothing is shipped for a local run, a Ray
    started by this process (its workers share this environment) or with ``ship=False``
    (the cluster has the code installed): the settings' variables are still forwarded.

    ``protocols`` are the fsspec protocols of the run's URLs (see
    :func:`~synapse_sdk.storage.urls.url_protocols`): their filesystem packages go too.

    Raises:
        ExecutorError: the code cannot be shipped, or the cluster cannot install what its
            workers lack (the message lists it).
    """
    if placement.executor != "ray":
        return placement
    env_vars = dict(settings.forwarded)
    address = placement.ray_address or settings.ray_address
    if not placement.ship or address is None:  # provisioned by hand, or a Ray started here
        return replace(placement, runtime_env={"env_vars": env_vars} if env_vars else {})
    from synapse_sdk.ray.shipping import prepare, shipment_for  # Ray: optional dependency

    # Joined again, with it as the job's environment.
    prepare(shipment_for(modules, protocols), address, env_vars)
    return replace(placement, runtime_env={"env_vars": env_vars} if env_vars else {})


def _execute(action: BaseAction[Any], placement: Placement) -> Any:
    """Run ``action`` where it was placed (:func:`place`, then :func:`ship`, for Ray)."""
    if placement.executor == "ray":
        from synapse_sdk.ray.launch import run_on_ray  # imports Ray, an optional dependency

        if placement.runtime_env is None:
            placement = ship(
                placement, modules_of(type(action), action._host()), action.ctx.settings
            )
        return run_on_ray(action, placement.runtime_env or {})
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
            with signals_unwrapped():  # from an action's own execute(), or its hooks
                result = _execute(action, placement)
            raise_lost_interrupt()  # dropped while hooks saw the end: undone below
            # Inside the `try`: a signal between the last step and this write still
            # undoes and settles the run.
            with critical_section():
                journal.end_run(run_id, "succeeded", result=handed_on(result))
                run_settled()
        except BaseException as exc:
            received(exc)
            try:  # in a pipeline too: it undoes completed actions, not the one stopped
                _undo_if_completed(action, journal, run_id, exc)
            finally:  # a second signal during that undo still settles the run
                with critical_section():
                    _settle(journal, run_id, exc, runtime.settings)
                    run_settled()
            raise
        finally:
            runtime.recorder = previous
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


def _undo_if_completed(
    action: BaseAction[Any], journal: RunJournal, run_id: str, exc: BaseException
) -> None:
    """Undo, from the journal, a run that a signal stopped after its last step.

    The orchestrator rolls back a run it is stopped in. A signal after its last step
    (while hooks observe the end, or while a run on Ray reports its success) finds no
    orchestrator left to do it, and the run would be left ``needs_rollback``. Every step's
    rollback data is journalled: undo them here, last first, as ``synapse runs rollback``
    would, so that Ctrl-C means "rolled back" at any moment of a run.
    """
    if not isinstance(exc, KeyboardInterrupt | RunTerminated):
        return
    try:
        run = journal.get_run(run_id)
        if run is None or run.state == "succeeded" or not run.steps:
            return
        if all(step.state in ("succeeded", "skipped") for step in run.steps):
            JournalledUndo.of(run, action).roll_back(journal, run_id)
    except Exception as undo_error:  # left needs_rollback: the interrupt stays what ends it
        with contextlib.suppress(Exception):
            action.ctx.log(
                "undo_after_signal_failed", {"error": describe_error(undo_error)}, level="warning"
            )


def _settle(journal: RunJournal, run_id: str, exc: BaseException, settings: Settings) -> None:
    """Journal the end of a run that did not succeed, with the state its steps show."""
    run = journal.get_run(run_id)
    if run is None:  # stopped before the run was journalled: nothing ran
        return
    if run.state == "succeeded":  # the signal came once it had succeeded: it stays so
        return
    interrupted = not isinstance(exc, Exception)  # a signal, or sys.exit() somewhere
    state = settled_state(run, interrupted=interrupted)
    journal.end_run(run_id, state, error=describe_error(exc))
    if not keeps_undo_area(state):
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
    ship_code: bool = True,
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
        ship_code: ray only: send the SDK, the action's and the plugins' packages to the
            workers, with the requirements they lack (False: the cluster has them).

    Raises:
        ActionNotFoundError: ``action`` names no installed action.
        InvalidParamsError: the params are invalid (every bad field is listed).
        StepExecutionError: a step failed; the run was rolled back.
        JournalError: the journal cannot be opened or written.
        ExecutorError: unknown executor, Ray not installed, or the cluster unreachable.
    """
    runtime = ctx if ctx is not None else RuntimeContext()
    instance = build_action(action, params, runtime, plugins)
    placement = Placement.of(executor, ray_address, ship=ship_code)
    place(placement, runtime.settings)
    host = instance.plugins or plugin_host(runtime.settings)
    protocols = url_protocols(instance.redacted_params())
    placement = ship(placement, modules_of(type(instance), host), runtime.settings, protocols)
    if journal is not None:
        return run_journalled(instance, journal, placement)
    own_journal = RunJournal(runtime.settings.journal_path)
    try:
        return run_journalled(instance, own_journal, placement)
    finally:
        own_journal.close()
