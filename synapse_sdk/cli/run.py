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
    EXIT_USAGE,
    CliError,
    exit_code_lines,
    kept_copies_note,
    load_params,
    load_plugin_host,
    open_journal,
    placement_of,
    quiet_option,
    ray_options,
    screen_sink,
    settings,
    verbose_option,
)
from synapse_sdk.cli.inspect import action_errors, json_option, with_params
from synapse_sdk.errors import JournalError

if TYPE_CHECKING:
    from synapse_sdk.actions.base import BaseAction
    from synapse_sdk.errors import StepExecutionError
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.run.runner import Placement
    from synapse_sdk.runtime.sinks import ProgressSink

__all__ = ["run_command"]


@dataclass(frozen=True)
class Verbosity:
    """``-v`` (logs, metrics, tracebacks too) or ``-q`` (only the result)."""

    verbose: bool = False
    quiet: bool = False


def _announce(what: str) -> None:
    click.secho(f"{what}...", err=True, dim=True)


@dataclass
class Outcome:
    """How a run ended: exit code, result, error message, and the crash behind it if any."""

    code: int
    result: Any = None
    error: str | None = None
    crash: BaseException | None = None
    run_id: str | None = None

    def line(self) -> dict[str, object]:
        """The last line of ``--json`` output: how the run ended, for scripts."""
        return {
            "event": "result",
            "success": self.code == EXIT_OK,
            "exit_code": self.code,
            "run_id": self.run_id,
            "result": self.result,
            "error": self.error,
        }


def _step_failure(exc: StepExecutionError) -> Outcome:
    """A failed step as the user should see it: bad input (exit 2), a crash or a failure.

    A crash names the exception's type and where in the plugin it was raised (see
    :mod:`synapse_sdk.cli.crash`); a step that returned ``success=False`` is shown as
    its own words.
    """
    from synapse_sdk.cli.crash import describe_crash
    from synapse_sdk.errors import StepInputError

    cause = exc.__cause__
    if isinstance(cause, StepInputError):
        return Outcome(EXIT_USAGE, error=f"step '{exc.step}' rejected its input: {cause}")
    if not isinstance(cause, Exception):
        return Outcome(EXIT_FAILED, error=str(exc))
    error = f"step '{exc.step}' failed: {describe_crash(cause)}"
    if exc.rollback_errors:
        error += f" ({len(exc.rollback_errors)} rollback(s) also failed)"
    return Outcome(EXIT_FAILED, error=error, crash=cause)


def _outcome(action: BaseAction[Any], journal: RunJournal, placement: Placement) -> Outcome:
    """Run ``action`` journalled; how it ended."""
    from synapse_sdk.cli.crash import describe_crash
    from synapse_sdk.errors import (
        InvalidParamsError,
        PluginHookError,
        RunAbandoned,
        RunTerminated,
        StepExecutionError,
    )
    from synapse_sdk.run.runner import run_journalled

    try:
        result = run_journalled(action, journal, placement)
        return Outcome(EXIT_OK, result)
    except InvalidParamsError as exc:  # params too large to journal: nothing ran
        raise CliError(str(exc)) from exc
    except StepExecutionError as exc:
        if isinstance(exc.__cause__, JournalError):
            return Outcome(EXIT_FAILED, error=_journal_failure(exc.__cause__, action))
        outcome = _step_failure(exc)
    except PluginHookError as exc:
        return Outcome(EXIT_FAILED, error=str(exc))
    except JournalError as exc:
        return Outcome(EXIT_FAILED, error=_journal_failure(exc, action))
    except KeyboardInterrupt:
        outcome = Outcome(EXIT_INTERRUPTED, error="interrupted")
    except RunTerminated as exc:
        code = int(exc.code or EXIT_TERMINATED)
        error = "terminated" if code == EXIT_TERMINATED else "hung up (SIGHUP: the terminal closed)"
        outcome = Outcome(code, error=error)
    except RunAbandoned as exc:
        outcome = Outcome(exc.exit_code, error=str(exc))
    except SystemExit as exc:  # a step or plugin called sys.exit(): a failure, rolled back
        outcome = Outcome(EXIT_FAILED, error=f"a step or plugin called sys.exit({exc.code!r})")
    except Exception as exc:  # an action's own execute() failing is the action failing
        error = f"action '{action.name}' failed: {describe_crash(exc)}"
        return Outcome(EXIT_FAILED, error=error, crash=exc)
    outcome.error = _after_rollback(outcome.error or "failed", action, journal)
    return outcome


def _after_rollback(error: str, action: BaseAction[Any], journal: RunJournal) -> str:
    """``error`` completed with what became of the run: rolled back, or left to finish."""
    run_id = action.ctx.job_id or ""
    run = journal.get_run(run_id)
    if run is not None and run.state == "needs_rollback":
        return (
            f"{error}; the rollback did not finish. Finish it with: synapse runs rollback {run_id}"
        )
    if run is not None and run.state == "rollback_failed":
        return (
            f"{error}; some rollbacks failed, so not everything was undone (see: synapse runs "
            f"show {run_id}){kept_copies_note([run_id])}"
        )
    if run is None or not run.steps:
        return f"{error} before any step ran; nothing was written"
    return f"{error}; the steps that ran were rolled back (run {run_id})"


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
) -> Outcome:
    from synapse_sdk.actions.catalog import build_action
    from synapse_sdk.errors import ExecutorError
    from synapse_sdk.run.runner import modules_of, place, ship
    from synapse_sdk.runtime.context import RuntimeContext, quiet_logger
    from synapse_sdk.runtime.sinks import JsonLinesSink
    from synapse_sdk.storage.urls import url_protocols

    params = load_params(params_json, params_file)
    host = load_plugin_host()
    ctx = RuntimeContext(logger=quiet_logger(), settings=settings())
    with action_errors():
        action = build_action(name, params, ctx, host)
    ctx.add_sink(sink)
    announce = None if isinstance(sink, JsonLinesSink) else _announce
    try:
        place(placement, ctx.settings, announce=announce)
        joined = placement.ray_address or ctx.settings.ray_address
        if placement.executor == "ray" and placement.ship and joined and announce is not None:
            announce("shipping the run's code to the cluster")
        protocols = url_protocols(action.redacted_params())
        placement = ship(placement, modules_of(type(action), host), ctx.settings, protocols)
    except ExecutorError as exc:
        raise CliError(str(exc)) from exc
    try:
        with open_journal() as journal:
            outcome = _outcome(action, journal, placement)
            outcome.run_id = ctx.job_id
            return outcome
    finally:
        ctx.close()


def _show_error(outcome: Outcome, verbose: bool) -> None:
    """Print the error line; for a crash, its traceback before it (``-v``) or a hint after."""
    from synapse_sdk.cli.crash import format_traceback

    if outcome.crash is not None and verbose:
        click.secho(format_traceback(outcome.crash), err=True, dim=True)
    click.secho(f"error: {outcome.error}", err=True, fg="red")
    if outcome.crash is not None and not verbose:
        click.secho("(run it again with -v to see the traceback)", err=True, dim=True)


def _run_json(
    name: str,
    params_json: str | None,
    params_file: Path | None,
    placement: Placement,
    verbosity: Verbosity,
) -> int:
    from synapse_sdk.runtime.sinks import JsonLinesSink, NullSink

    sink: JsonLinesSink = JsonLinesSink(sys.stdout)
    events = NullSink() if verbosity.quiet else sink
    try:
        outcome = _execute(name, params_json, params_file, events, placement)
    except CliError as exc:
        exc.show()
        outcome = Outcome(exc.exit_code, error=exc.format_message())
    else:
        if outcome.error:
            _show_error(outcome, verbosity.verbose)
    sink.write(outcome.line())
    return outcome.code


def _run_terminal(
    name: str,
    params_json: str | None,
    params_file: Path | None,
    placement: Placement,
    verbosity: Verbosity,
) -> int:
    from synapse_sdk.runtime.events import dumps

    started = time.perf_counter()
    from synapse_sdk.runtime.sinks import NullSink

    sink = NullSink() if verbosity.quiet else screen_sink(name, verbose=verbosity.verbose)
    outcome = _execute(name, params_json, params_file, sink, placement)
    elapsed = time.perf_counter() - started
    if outcome.code == EXIT_OK:
        if not verbosity.quiet:
            done = f"✓ {name} finished in {elapsed:.1f}s (run {outcome.run_id})"
            click.secho(done, err=True, fg="green")
        click.echo(dumps(outcome.result))
    else:
        _show_error(outcome, verbosity.verbose)
    return outcome.code


_HELP = """Run action NAME with the given params.

When two installed distributions provide an action NAME, name the one to run as DIST:NAME
(`synapse actions list` shows both); NAME alone is refused (exit 2).

On a terminal the progress bar and one line per step go to stderr, and the result (JSON)
to stdout; -v adds the logs, the metrics and the traceback of a crash, -q shows only the
result. With --json, stdout gets one JSON object per line (each with an "event" key:
progress, log, metrics, step) and the last line is the result (with -q, only that line).

A step that crashes is reported with the exception's type and the file:line in the
plugin where it was raised; a step that raises StepInputError is bad input (exit 2).

\b
Exit codes:
{exit_codes}

A second Ctrl-C (or signal) while the run is stopping leaves its rollback to
`synapse runs rollback RUN_ID` (the message says so) and exits at once.

Every run is recorded in the run journal ($SYNAPSE_HOME/runs.db, default
~/.synapse/runs.db); see `synapse runs`.

With --executor ray the params are checked here, then the action runs as a task on a
Ray cluster (pip install -e '.[ray]' from the SDK's clone); progress, logs and the journal
are streamed back live, and Ctrl-C cancels the remote run and waits for its rollback. The
SDK, the action's and the plugins' packages go to the workers in a Ray runtime
environment, with the requirements the workers lack (--no-ship: they have everything).
"""


@click.command(
    "run", help=_HELP.format(exit_codes="\n".join(f"  {line}" for line in exit_code_lines()))
)
@click.argument("name")
@with_params
@json_option
@verbose_option
@quiet_option
@ray_options
def run_command(
    name: str,
    params_json: str | None,
    params_file: Path | None,
    as_json: bool,
    verbose: bool,
    quiet: bool,
    executor: str | None,
    ray_address: str | None,
    no_ship: bool,
    env_names: tuple[str, ...],
) -> None:
    """``synapse run``; its help is :data:`_HELP`, built with the exit-code table."""
    if verbose and quiet:
        raise CliError("give either -v/--verbose or -q/--quiet, not both")
    placement = placement_of(executor, ray_address, no_ship, env_names)
    runner = _run_json if as_json else _run_terminal
    sys.exit(runner(name, params_json, params_file, placement, Verbosity(verbose, quiet)))
