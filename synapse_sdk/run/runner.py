"""Running an action for real: the run journal, SIGINT/SIGTERM handling, ``run_action``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from synapse_sdk.actions.base import BaseAction
from synapse_sdk.actions.catalog import class_reference, resolve_action
from synapse_sdk.errors import ExecutorError, describe_error
from synapse_sdk.fanout import EXECUTORS
from synapse_sdk.fanout.ray_cluster import import_ray
from synapse_sdk.host.manager import PluginHost, get_plugin_host
from synapse_sdk.interrupts import cancellation_handlers, critical_section, run_settled
from synapse_sdk.journal.recorder import JournalRecorder, settled_state
from synapse_sdk.journal.store import RunJournal, default_journal_path
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.storage.undo_area import discard_undo_area

__all__ = ["execute", "run_action", "run_journalled"]


def check_executor(executor: str, ray_address: str | None) -> None:
    """Reject an unknown executor name, or a Ray address given for a local run."""
    if executor not in EXECUTORS:
        raise ExecutorError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")
    if ray_address is not None and executor != "ray":
        raise ExecutorError("a Ray address was given for a local run; use executor='ray'")


def execute(
    action: BaseAction[Any], executor: str = "local", ray_address: str | None = None
) -> Any:
    """Run ``action`` here (``'local'``) or as a task on a Ray cluster (``'ray'``)."""
    check_executor(executor, ray_address)
    if executor == "ray":
        from synapse_sdk.ray.launch import run_on_ray  # imports Ray, an optional dependency

        return run_on_ray(action, address=ray_address)
    return action.run()


def run_journalled(
    action: BaseAction[Any],
    journal: RunJournal,
    *,
    executor: str = "local",
    ray_address: str | None = None,
) -> Any:
    """Run ``action`` with every step recorded in ``journal`` under a new run id.

    The run id is also the runtime context's ``job_id`` (set before the run starts). On
    failure the run's final state is derived from its steps: ``rolled_back``,
    ``rollback_failed``, ``failed`` (nothing ran), or ``needs_rollback`` when the rollback
    itself was interrupted (``synapse runs rollback RUN_ID`` finishes it).
    """
    check_executor(executor, ray_address)
    if executor == "ray":  # a missing Ray is a usage error, not a failed run
        import_ray()
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
            )
            if runtime.job_id is None:
                runtime.job_id = run_id
            runtime.recorder = JournalRecorder(journal, run_id)
            result = execute(action, executor, ray_address)
        except BaseException as exc:
            with critical_section():
                _settle(journal, run_id, exc, runtime.env)
                run_settled()
            raise
        finally:
            runtime.recorder = previous
        with critical_section():
            journal.end_run(run_id, "succeeded")
            run_settled()
        discard_undo_area(runtime.env, run_id)
    return result


def _settle(journal: RunJournal, run_id: str, exc: BaseException, env: Mapping[str, str]) -> None:
    """Journal the end of a run that did not succeed, with the state its steps show."""
    run = journal.get_run(run_id)
    if run is None:  # stopped before the run was journalled: nothing ran
        return
    interrupted = not isinstance(exc, Exception)  # a signal, or sys.exit() somewhere
    state = settled_state(run, interrupted=interrupted)
    journal.end_run(run_id, state, error=describe_error(exc))
    if state != "needs_rollback":  # replaced content is kept only for a rollback to come
        discard_undo_area(env, run_id)


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

    The run is recorded in the run journal (``$SYNAPSE_HOME/runs.db`` unless ``journal``
    is given); its run id is ``ctx.job_id``. While it runs, SIGINT and SIGTERM roll it back.

    Args:
        action: an action class, an installed action's name, or ``"module:Class"``.
        params: a mapping or an instance of the action's params model.
        ctx: the runtime context (logger, sinks); a fresh ``RuntimeContext()`` by default.
        plugins: the plugin host; by default the process-wide one, which loads the
            plugins installed through entry points (as the ``synapse`` command does).
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
    action_class, name = resolve_action(action)
    runtime = ctx if ctx is not None else RuntimeContext()
    host = plugins if plugins is not None else get_plugin_host(runtime.env)
    instance = action_class(params, runtime, plugins=host, name=name)
    check_executor(executor, ray_address)
    if journal is not None:
        return run_journalled(instance, journal, executor=executor, ray_address=ray_address)
    own_journal = RunJournal(default_journal_path(runtime.env))
    try:
        return run_journalled(instance, own_journal, executor=executor, ray_address=ray_address)
    finally:
        own_journal.close()
