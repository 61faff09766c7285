"""``synapse run``: run an action with a live progress bar, or JSON lines with ``--json``."""

from __future__ import annotations

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
    CliError,
    load_params,
    load_plugin_host,
    open_journal,
)
from synapse_sdk.cli.inspect import json_option, resolve, with_params

if TYPE_CHECKING:
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.plugins.actions.base import BaseAction
    from synapse_sdk.plugins.runtime.sinks import JsonLinesSink, ProgressSink

__all__ = ["run_command"]


@dataclass(frozen=True)
class Placement:
    """Where the run goes: ``--executor`` and ``--ray-address``."""

    executor: str = "local"
    ray_address: str | None = None


def _placement(executor: str | None, ray_address: str | None) -> Placement:
    if executor == "local" and ray_address:
        raise CliError("--ray-address is for --executor ray; drop one of them")
    if executor is None:
        executor = "ray" if ray_address else "local"
    return Placement(executor, ray_address)


def _connect(placement: Placement, env: dict[str, str], announce: bool) -> None:
    """Join or start Ray before the run is journalled, so a missing Ray is a usage error."""
    from synapse_sdk.exceptions import ExecutorError
    from synapse_sdk.executors._ray import connect, import_ray

    address = placement.ray_address or env.get("RAY_ADDRESS")
    try:
        import_ray()
        if announce:
            where = f"joining the Ray cluster at {address}" if address else "starting a local Ray"
            click.secho(f"{where}...", err=True, dim=True)
        connect(address, env)
    except ExecutorError as exc:
        raise CliError(str(exc)) from exc


def _outcome(
    action: BaseAction[Any], journal: RunJournal, placement: Placement
) -> tuple[int, Any, str | None]:
    """Run ``action`` journalled; return ``(exit code, result, error message)``."""
    from synapse_sdk.exceptions import (
        InvalidParamsError,
        PluginHookError,
        RunAbandoned,
        RunTerminated,
        StepExecutionError,
    )
    from synapse_sdk.journal.store import JournalError
    from synapse_sdk.plugins.runner import run_journalled

    try:
        result = run_journalled(
            action, journal, executor=placement.executor, ray_address=placement.ray_address
        )
        return EXIT_OK, result, None
    except InvalidParamsError as exc:  # params too large to journal: nothing ran
        raise CliError(str(exc)) from exc
    except StepExecutionError as exc:
        if isinstance(exc.__cause__, JournalError):
            return EXIT_FAILED, None, _journal_failure(exc.__cause__, action)
        code, error = EXIT_FAILED, str(exc)
    except PluginHookError as exc:
        return EXIT_FAILED, None, str(exc)
    except JournalError as exc:
        return EXIT_FAILED, None, _journal_failure(exc, action)
    except KeyboardInterrupt:
        code, error = EXIT_INTERRUPTED, "interrupted"
    except RunTerminated as exc:
        code = int(exc.code or EXIT_TERMINATED)
        error = "terminated" if code == EXIT_TERMINATED else "hung up (SIGHUP: the terminal closed)"
    except RunAbandoned as exc:
        code, error = exc.exit_code, str(exc)
    except SystemExit as exc:  # a step or plugin called sys.exit(): a failure, rolled back
        code, error = EXIT_FAILED, f"a step or plugin called sys.exit({exc.code!r})"
    except Exception as exc:  # an action's own execute() failing is the action failing
        return EXIT_FAILED, None, f"action '{action.name}' failed: {type(exc).__name__}: {exc}"
    run_id = action.ctx.job_id or ""
    run = journal.get_run(run_id)
    if run is not None and run.state == "needs_rollback":
        return (
            code,
            None,
            f"{error}; the rollback did not finish. Finish it with: synapse runs rollback {run_id}",
        )
    if run is None or not run.steps:
        return code, None, f"{error} before any step ran; nothing was written"
    return code, None, f"{error}; the steps that ran were rolled back (run {run_id})"


def _journal_failure(exc: Exception, action: BaseAction[Any]) -> str:
    run_id = action.ctx.job_id
    where = f" Check it with: synapse runs show {run_id}" if run_id else ""
    return (
        f"journal failure: {exc}. The steps that ran were rolled back, but the journal "
        f"could not record everything.{where}"
    )


def _execute(
    name: str,
    params_json: str | None,
    params_file: Path | None,
    sink: ProgressSink,
    placement: Placement,
) -> tuple[int, Any, str | None, str | None]:
    from synapse_sdk.exceptions import InvalidParamsError
    from synapse_sdk.plugins.runtime.context import RuntimeContext, quiet_logger
    from synapse_sdk.plugins.runtime.sinks import JsonLinesSink

    params = load_params(params_json, params_file)
    host = load_plugin_host()
    action_class, resolved = resolve(name)
    ctx = RuntimeContext(sinks=[sink], logger=quiet_logger())
    try:
        action = action_class(params, ctx, plugins=host, name=resolved)
    except InvalidParamsError as exc:
        raise CliError(str(exc)) from exc
    if placement.executor == "ray":
        _connect(placement, ctx.env, announce=not isinstance(sink, JsonLinesSink))
    try:
        with open_journal() as journal:
            code, result, error = _outcome(action, journal, placement)
            return code, result, error, ctx.job_id
    finally:
        ctx.close()


def _run_json(
    name: str, params_json: str | None, params_file: Path | None, placement: Placement
) -> int:
    from synapse_sdk.plugins.runtime.sinks import JsonLinesSink

    sink: JsonLinesSink = JsonLinesSink(sys.stdout)
    run_id = None
    try:
        code, result, error, run_id = _execute(name, params_json, params_file, sink, placement)
    except CliError as exc:
        exc.show()
        code, result, error = exc.exit_code, None, exc.format_message()
    else:
        if error:
            click.secho(f"error: {error}", err=True, fg="red")
    sink.write(
        {
            "event": "result",
            "success": code == EXIT_OK,
            "exit_code": code,
            "run_id": run_id,
            "result": result,
            "error": error,
        }
    )
    return code


def _run_terminal(
    name: str, params_json: str | None, params_file: Path | None, placement: Placement
) -> int:
    from synapse_sdk.plugins.runtime.events import dumps
    from synapse_sdk.plugins.runtime.terminal import TerminalSink

    started = time.perf_counter()
    sink = TerminalSink(title=name)
    code, result, error, run_id = _execute(name, params_json, params_file, sink, placement)
    elapsed = time.perf_counter() - started
    if code == EXIT_OK:
        click.secho(f"✓ {name} finished in {elapsed:.1f}s (run {run_id})", err=True, fg="green")
        click.echo(dumps(result))
    else:
        click.secho(f"error: {error}", err=True, fg="red")
    return code


@click.command("run")
@click.argument("name")
@with_params
@json_option
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default=None,
    help="Where the action runs: here (local, the default) or on a Ray cluster (ray).",
)
@click.option(
    "--ray-address",
    metavar="ADDR",
    default=None,
    help="Ray cluster to join, HOST:PORT of its head node (implies --executor ray). "
    "Default for --executor ray: $RAY_ADDRESS, else a local Ray started for the run.",
)
def run_command(
    name: str,
    params_json: str | None,
    params_file: Path | None,
    as_json: bool,
    executor: str | None,
    ray_address: str | None,
) -> None:
    """Run action NAME with the given params.

    On a terminal a live progress bar and the logs go to stderr and the result (JSON) to
    stdout. With --json, stdout gets one JSON object per line (each with an "event" key:
    progress, log, metrics, step) and the last line is the result.

    \b
    Exit codes:
      0    success
      1    the action failed (its steps were rolled back)
      2    bad usage, unknown action or invalid params
      129  the terminal closed (SIGHUP; its steps were rolled back)
      130  interrupted by Ctrl-C (its steps were rolled back)
      143  terminated by SIGTERM (its steps were rolled back)

    A second Ctrl-C (or signal) while the run is stopping leaves its rollback to
    `synapse runs rollback RUN_ID` (the message says so) and exits at once.

    Every run is recorded in the run journal ($SYNAPSE_HOME/runs.db, default
    ~/.synapse/runs.db); see `synapse runs`.

    With --executor ray the params are checked here, then the action runs as a task on a
    Ray cluster (pip install 'synapse-sdk[ray]'); progress, logs and the journal are
    streamed back live, and Ctrl-C cancels the remote run and waits for its rollback.
    """
    placement = _placement(executor, ray_address)
    runner = _run_json if as_json else _run_terminal
    sys.exit(runner(name, params_json, params_file, placement))
