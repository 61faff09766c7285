"""``synapse runs``: the run journal: list runs, show one, roll back an unfinished one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from synapse_sdk.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    CliError,
    load_params,
    load_plugin_host,
    open_journal,
    print_table,
)
from synapse_sdk.cli.inspect import json_option

if TYPE_CHECKING:
    from synapse_sdk.journal.store import RunRecord

__all__ = ["runs_group"]


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


@click.group("runs")
def runs_group() -> None:
    """Inspect the run journal and finish runs a crash left unfinished."""


@runs_group.command("list")
@click.option("--limit", default=20, show_default=True, help="How many recent runs to show.")
@json_option
def list_runs(limit: int, as_json: bool) -> None:
    """Recent runs, newest first. Runs marked 'needs_rollback' were left unfinished by a crash."""
    with open_journal() as journal:
        runs = journal.list_runs(limit)
    if as_json:
        click.echo(
            json.dumps(
                [{k: v for k, v in run.to_dict().items() if k != "steps"} for run in runs], indent=2
            )
        )
        return
    if not runs:
        click.echo("No runs recorded yet.")
        return
    print_table(
        ["RUN ID", "ACTION", "STATE", "STARTED", "ENDED"],
        [
            [
                run.run_id,
                run.action,
                f"{run.state} (run: synapse runs rollback {run.run_id})"
                if run.needs_rollback
                else run.state,
                _when(run.started_at),
                _when(run.ended_at),
            ]
            for run in runs
        ],
    )


@runs_group.command("show")
@click.argument("run_id")
@json_option
def show_run(run_id: str, as_json: bool) -> None:
    """One run with the state and rollback data of each step."""
    with open_journal() as journal:
        run = journal.get_run(run_id)
    if run is None:
        raise CliError(f"no run with id '{run_id}'; see 'synapse runs list'")
    if as_json:
        click.echo(json.dumps(run.to_dict(), indent=2))
        return
    click.echo(f"run {run.run_id}: {run.action}, {run.state}")
    click.echo(f"started {_when(run.started_at)}, ended {_when(run.ended_at)}")
    if run.error:
        click.echo(f"error: {run.error}")
    if run.needs_rollback:
        click.echo(f"finish it with: synapse runs rollback {run.run_id}")
    click.echo(f"params: {json.dumps(run.params)}")
    print_table(
        ["#", "STEP", "STATE", "ROLLBACK DATA", "ERROR"],
        [
            [
                step.position + 1,
                step.name,
                step.state,
                json.dumps(step.rollback_data),
                step.error or "",
            ]
            for step in run.steps
        ],
    )


@runs_group.command("rollback")
@click.argument("run_id")
@click.option(
    "--params-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON params overriding the journalled ones (needed for secret fields).",
)
@json_option
def rollback(run_id: str, params_file: Path | None, as_json: bool) -> None:
    """Roll back a run left unfinished by a crash, from the journal.

    Every step that ran and is not undone yet is rolled back in reverse order with the
    rollback data the journal holds. Safe to repeat: steps already rolled back are skipped.
    """
    from synapse_sdk.exceptions import (
        ActionNotFoundError,
        InvalidParamsError,
        RunAbandoned,
        RunInUseError,
        RunTerminated,
    )
    from synapse_sdk.journal.recovery import RecoveryError, rollback_run
    from synapse_sdk.plugins.catalog import ActionLoadError

    params = load_params(None, params_file)
    host = load_plugin_host()
    with open_journal() as journal:
        try:
            run = rollback_run(journal, run_id, plugins=host, params=params)
        except (
            RecoveryError,
            RunInUseError,
            ActionNotFoundError,
            InvalidParamsError,
            ActionLoadError,
        ) as exc:
            raise CliError(str(exc)) from exc
        except (KeyboardInterrupt, RunTerminated, RunAbandoned) as exc:
            raise CliError(
                f"interrupted; run 'synapse runs rollback {run_id}' again to finish",
                exit_code=_interrupt_exit_code(exc),
            ) from exc
    if as_json:
        click.echo(json.dumps({"run_id": run.run_id, "action": run.action, "state": run.state}))
    else:
        undone = ", ".join(step.name for step in run.steps if step.state == "rolled_back")
        summary = f"run {run.run_id} ({run.action}): {run.state}"
        click.echo(f"{summary}; rolled back: {undone or 'nothing'}")
    if run.state != "rolled_back":
        raise SystemExit(EXIT_FAILED)


def _interrupt_exit_code(exc: BaseException) -> int:
    from synapse_sdk.exceptions import RunAbandoned

    if isinstance(exc, RunAbandoned):
        return exc.exit_code
    if isinstance(exc, SystemExit) and isinstance(exc.code, int):
        return exc.code
    return EXIT_INTERRUPTED


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration(text: str) -> float:
    """Seconds in ``30d``, ``12h``, ``90m``, ``45s`` or ``2w``; a CLI error otherwise."""
    number, unit = text[:-1], text[-1:].lower()
    if unit not in _UNITS or not number.isdigit():
        raise CliError(
            f"--older-than {text!r} is not a duration; write a whole number and a unit, "
            "such as 30d, 12h, 90m, 45s or 2w"
        )
    return int(number) * _UNITS[unit]


@runs_group.command("prune")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="AGE",
    help="Delete runs that started longer ago than AGE (30d, 12h, 90m, 45s, 2w).",
)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["succeeded", "failed", "rolled_back", "rollback_failed"]),
    help="Only runs in this state (repeat for several). Default: every finished state.",
)
@json_option
def prune(older_than: str, states: tuple[str, ...], as_json: bool) -> None:
    """Delete old finished runs from the journal.

    Runs that are running, being rolled back or need a rollback are never deleted,
    whatever their age: they are still someone's to finish.
    """
    seconds = _duration(older_than)
    with open_journal() as journal:
        removed = journal.prune(seconds, set(states) or None)
    if as_json:
        click.echo(json.dumps({"removed": [_summary(run) for run in removed]}, indent=2))
        return
    click.echo(f"removed {len(removed)} run(s) older than {older_than}")


def _summary(run: RunRecord) -> dict[str, object]:
    return {
        "run_id": run.run_id,
        "action": run.action,
        "state": run.state,
        "started_at": run.started_at,
    }
