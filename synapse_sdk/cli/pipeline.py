"""``synapse pipeline run|plan`` and ``synapse runs resume``: pipelines from the command line."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from synapse_sdk.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    PLAN_HEADERS,
    STORAGE_UNDO_NOTE,
    CliError,
    kept_copies_note,
    load_params,
    load_plugin_host,
    open_journal,
    placement_of,
    print_table,
    quiet_option,
    ray_options,
    screen_sink,
    settings,
    verbose_option,
)
from synapse_sdk.cli.inspect import action_errors, json_option
from synapse_sdk.cli.run import (
    Outcome,
    Verbosity,
    _show_error,
    _step_failure,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from synapse_sdk.errors import PipelineFailedError
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.pipeline import Pipeline
    from synapse_sdk.run.runner import Placement
    from synapse_sdk.runtime.context import RuntimeContext
    from synapse_sdk.runtime.sinks import ProgressSink

__all__ = ["pipeline_group", "resume_command"]

params_file_option = click.option(
    "--params-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON object of params by action id, laid over the file's (keep secrets here).",
)
resume_params_option = click.option(
    "--params-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON object of params by action id, laid over the journalled ones: secrets, which "
    "the journal does not keep, and any param to change for the rest of the run.",
)
keep_option = click.option(
    "--keep-completed",
    is_flag=True,
    help="When an action fails, undo only that action: the ones before it keep their "
    "outputs and the pipeline is left 'failed', ready for `synapse runs resume`.",
)


def _by_action(params_file: Path | None) -> dict[str, dict[str, Any]]:
    """The ``--params-file`` of a pipeline command: an object of params objects, by id."""
    supplied = load_params(None, params_file) or {}
    for key, value in supplied.items():
        if not isinstance(value, dict):
            raise CliError(
                f"params file {params_file}: '{key}' must be an object of that action's params; "
                'key the file by action id, e.g. {"publish": {"storage_options": {...}}}'
            )
    return supplied


def _load(path: Path, params_file: Path | None) -> Pipeline:
    """The pipeline of ``path`` with the ``--params-file`` params laid over its own."""
    from synapse_sdk.errors import PipelineError
    from synapse_sdk.pipeline import Pipeline, load_pipeline
    from synapse_sdk.runtime.secrets import deep_merge

    supplied = _by_action(params_file)
    try:
        pipeline = load_pipeline(path)
        if not supplied:
            return pipeline
        data = pipeline.to_dict()
        ids = {entry["id"] for entry in data["actions"]}
        unknown = sorted(set(supplied) - ids)
        if unknown:
            raise PipelineError(
                f"params file {params_file} has params for {', '.join(unknown)}, which "
                f"pipeline '{pipeline.name}' does not have; its actions are: {', '.join(ids)}"
            )
        for entry in data["actions"]:
            entry["params"] = deep_merge(entry["params"], supplied.get(entry["id"], {}))
        return Pipeline.from_dict(data, source=str(path))
    except PipelineError as exc:
        raise CliError(str(exc)) from exc


@click.group("pipeline")
def pipeline_group() -> None:
    """Run a chain of actions as one run: checked hand-offs, one rollback, resume.

    A pipeline is a TOML file listing actions, their params and the mappings from one
    action's result to a later action's params (see docs/pipelines.md).
    """


def _failure_text(journal: RunJournal, run_id: str | None, error: str) -> str:
    """``error`` completed with what became of the pipeline and what to type next."""
    run = journal.get_run(run_id) if run_id else None
    if run is None:
        return f"{error} before the pipeline started; nothing was written"
    if run.state == "failed":
        return (
            f"{error}; that action was rolled back and the actions before it kept their "
            f"outputs. Continue with: synapse runs resume {run_id} (or undo all of it: "
            f"synapse runs rollback {run_id})"
        )
    if run.state == "needs_rollback":
        return (
            f"{error}; the rollback did not finish. Finish it with: synapse runs rollback "
            f"{run_id} (or continue: synapse runs resume {run_id})"
        )
    if run.state == "rollback_failed":
        children = [child.run_id for child in journal.children(run.run_id)]
        return (
            f"{error}; some rollbacks failed (see: synapse runs show {run_id})"
            f"{kept_copies_note(children)}"
        )
    return f"{error}; every action that ran was rolled back (pipeline run {run_id})"


def _outcome(start: Callable[[RunJournal], dict[str, Any]], ctx: RuntimeContext) -> Outcome:
    """Run a pipeline (``start``) journalled; how it ended."""
    from synapse_sdk.errors import (
        ExecutorError,
        JournalError,
        PipelineError,
        PipelineFailedError,
        RecoveryError,
        RunAbandoned,
        RunInUseError,
        RunTerminated,
    )

    with open_journal() as journal:
        try:
            with action_errors():
                return Outcome(EXIT_OK, start(journal), run_id=ctx.job_id)
        except (PipelineError, ExecutorError, RecoveryError, RunInUseError) as exc:
            raise CliError(str(exc)) from exc
        except PipelineFailedError as exc:
            outcome = _action_failure(exc)
        except JournalError as exc:
            where = f" Check it with: synapse runs show {ctx.job_id}" if ctx.job_id else ""
            return Outcome(EXIT_FAILED, error=f"journal failure: {exc}.{where}")
        except KeyboardInterrupt:
            outcome = Outcome(EXIT_INTERRUPTED, error="interrupted")
        except RunTerminated as exc:
            outcome = Outcome(int(exc.code or EXIT_TERMINATED), error="terminated")
        except RunAbandoned as exc:
            outcome = Outcome(exc.exit_code, error=str(exc))
        outcome.run_id = ctx.job_id
        outcome.error = _failure_text(journal, ctx.job_id, outcome.error or "failed")
        return outcome


def _action_failure(exc: PipelineFailedError) -> Outcome:
    """A failed action as ``synapse run`` shows a failed step (bad input: exit 2), named."""
    from synapse_sdk.errors import StepExecutionError

    cause = exc.__cause__
    if isinstance(cause, StepExecutionError):
        outcome = _step_failure(cause)
    else:
        outcome = Outcome(EXIT_FAILED, error=exc.error)
    outcome.error = f"action '{exc.action}' failed: {outcome.error}"
    return outcome


def _runtime(sink: ProgressSink | None) -> RuntimeContext:
    from synapse_sdk.runtime.context import RuntimeContext, quiet_logger

    return RuntimeContext(
        logger=quiet_logger(), settings=settings(), sinks=[sink] if sink is not None else []
    )


def _report(
    title: str,
    start: Callable[[RunJournal, RuntimeContext], dict[str, Any]],
    choices: _RunChoices,
) -> int:
    """Run ``start`` with the screen (or JSON lines) of ``synapse run``; the exit code."""
    from synapse_sdk.runtime.events import dumps
    from synapse_sdk.runtime.sinks import JsonLinesSink

    verbosity = choices.verbosity
    started = time.perf_counter()
    lines = JsonLinesSink(sys.stdout) if choices.as_json else None
    if verbosity.quiet:
        sink: ProgressSink | None = None
    else:
        sink = lines if lines is not None else screen_sink(title, verbose=verbosity.verbose)
    ctx = _runtime(sink)
    try:
        outcome = _outcome(lambda journal: start(journal, ctx), ctx)
    except CliError as exc:
        ctx.close()
        if lines is None:
            raise
        exc.show()
        outcome = Outcome(exc.exit_code, error=exc.format_message())
    else:
        ctx.close()  # the progress bar ends before the error line
        if outcome.error:
            _show_error(outcome, verbosity.verbose)
    if lines is not None:
        lines.write(outcome.line())
    elif outcome.code == EXIT_OK:
        if not verbosity.quiet:
            elapsed = time.perf_counter() - started
            done = f"✓ {title} finished in {elapsed:.1f}s (pipeline run {outcome.run_id})"
            click.secho(done, err=True, fg="green")
        click.echo(dumps(outcome.result))
    return outcome.code


@dataclass(frozen=True)
class _RunChoices:
    """What the options shared by ``pipeline run`` and ``runs resume`` ask for."""

    placement: Placement
    verbosity: Verbosity
    as_json: bool
    keep_completed: bool

    @classmethod
    def of(
        cls,
        *,
        keep_completed: bool,
        executor: str | None,
        ray_address: str | None,
        no_ship: bool,
        env_names: tuple[str, ...],
        as_json: bool,
        verbose: bool,
        quiet: bool,
    ) -> _RunChoices:
        if verbose and quiet:
            raise CliError("give either -v/--verbose or -q/--quiet, not both")
        placement = placement_of(executor, ray_address, no_ship, env_names)
        return cls(placement, Verbosity(verbose, quiet), as_json, keep_completed)


def _run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--keep-completed, the Ray options (as for synapse run), --json, -v and -q."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        keep_option,
        ray_options,
        json_option,
        verbose_option,
        quiet_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


@pipeline_group.command("run")
@click.argument("file", type=click.Path(path_type=Path))
@params_file_option
@_run_options
def run_pipeline_command(file: Path, params_file: Path | None, **options: Any) -> None:
    """Run the pipeline of FILE (TOML): its actions in order, as one journalled run.

    Every hand-off is checked before anything runs: a required param that nothing feeds
    is exit 2, naming the action, the param and what could feed it. One progress bar
    covers the whole pipeline, naming the running action and step. When an action fails
    it is rolled back, then every action before it, last first (exit 1); with
    --keep-completed those keep their outputs, and `synapse runs resume RUN_ID` continues.
    Exit codes are those of `synapse run`.
    """
    from synapse_sdk.pipeline import run_pipeline

    choices = _RunChoices.of(**options)
    pipeline = _load(file, params_file)
    host = load_plugin_host()

    def start(journal: RunJournal, ctx: RuntimeContext) -> dict[str, Any]:
        return run_pipeline(
            pipeline,
            ctx=ctx,
            plugins=host,
            journal=journal,
            executor=choices.placement.executor,
            ray_address=choices.placement.ray_address,
            keep_completed=choices.keep_completed,
            ship_code=choices.placement.ship,
        )

    sys.exit(_report(pipeline.name, start, choices))


@click.command("resume")
@click.argument("run_id")
@resume_params_option
@_run_options
def resume_command(run_id: str, params_file: Path | None, **options: Any) -> None:
    """Continue a failed or interrupted pipeline run that was not rolled back.

    Actions that completed are skipped and their journalled results feed the next ones;
    the action that failed is undone where it left work behind, then runs again from
    its start. Secret params, which the journal does not keep, must be given again with
    --params-file (keyed by action id).
    """
    from synapse_sdk.pipeline import resume_pipeline

    choices = _RunChoices.of(**options)
    supplied = _by_action(params_file)
    host = load_plugin_host()

    def start(journal: RunJournal, ctx: RuntimeContext) -> dict[str, Any]:
        ctx.job_id = run_id
        return resume_pipeline(
            journal,
            run_id,
            ctx=ctx,
            plugins=host,
            params=supplied,
            executor=choices.placement.executor,
            ray_address=choices.placement.ray_address,
            keep_completed=choices.keep_completed,
            ship_code=choices.placement.ship,
        )

    with open_journal() as journal:
        found = journal.get_run(run_id)
    title = f"{found.action} (resumed)" if found is not None else run_id
    sys.exit(_report(title, start, choices))


@pipeline_group.command("plan")
@click.argument("file", type=click.Path(path_type=Path))
@params_file_option
@json_option
def plan_pipeline_command(file: Path, params_file: Path | None, as_json: bool) -> None:
    """Show every action of the pipeline in FILE with its steps, without running anything.

    Weights are percentages of the whole pipeline's progress; FROM and WRAPPED BY are as
    in `synapse plan`. The hand-offs are checked as `pipeline run` checks them (exit 2
    when one cannot be fed), and each fed param is listed with where it comes from.
    """
    from synapse_sdk.errors import PipelineError, PluginHookError
    from synapse_sdk.pipeline import check_pipeline
    from synapse_sdk.pipeline.runner import action_weights

    pipeline = _load(file, params_file)
    host = load_plugin_host()
    ctx = _runtime(None)
    try:
        with action_errors():
            checked = check_pipeline(pipeline, ctx.settings)
            weights = action_weights(checked, host, ctx)
            plans = [
                stage.action_class.for_planning(
                    stage.stage.params, ctx, plugins=host, name=stage.name
                ).plan()
                for stage in checked
            ]
    except PipelineError as exc:
        raise CliError(str(exc)) from exc
    except PluginHookError as exc:
        raise CliError(str(exc), exit_code=1) from exc
    total = sum(weights) or 1.0
    payload: list[dict[str, Any]] = [
        {
            "id": stage.id,
            "action": stage.name,
            "percent": 100 * weight / total,
            "feeds": {feed.param: f"{feed.source}.{feed.field}" for feed in stage.feeds},
            "steps": [
                {
                    "name": step.name,
                    "percent": 100 * step.weight / total,
                    "contributed_by": step.contributed_by,
                    "wrapped_by": list(step.wrapped_by),
                    "has_rollback": step.has_rollback,
                }
                for step in plan.steps
            ],
        }
        for stage, weight, plan in zip(checked, weights, plans, strict=True)
    ]
    if as_json:
        click.echo(json.dumps({"pipeline": pipeline.name, "actions": payload}, indent=2))
        return
    click.echo(f"Plan for pipeline '{pipeline.name}', {len(payload)} actions:")
    for number, entry in enumerate(payload, 1):
        click.echo(f"\n{number}. {entry['id']} ({entry['action']}), {entry['percent']:.1f}%")
        for param, source in entry["feeds"].items():
            click.echo(f"   {param} <- {source}")
        print_table(
            PLAN_HEADERS,
            [
                [
                    step["name"],
                    f"{step['percent']:.1f}%",
                    step["contributed_by"],
                    ", ".join(step["wrapped_by"]) or "-",
                    "yes" if step["has_rollback"] else "no",
                ]
                for step in entry["steps"]
            ],
        )
    click.echo(f"\n{STORAGE_UNDO_NOTE}")
