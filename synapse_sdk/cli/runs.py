"""``synapse runs``: the run journal: list runs, show one, roll back an unfinished one."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from synapse_sdk.cli.common import (
    EXIT_FAILED,
    CliError,
    kept_copies_note,
    load_params,
    load_plugin_host,
    open_journal,
    print_table,
    screen_sink,
    settings,
    verbose_option,
)
from synapse_sdk.cli.inspect import json_option
from synapse_sdk.errors import ActionLoadError, RecoveryError

if TYPE_CHECKING:
    from synapse_sdk.host.manager import PluginHost
    from synapse_sdk.journal.store import RunJournal, RunRecord
    from synapse_sdk.runtime.context import RuntimeContext

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
        runs = journal.list_runs(limit, top_level=True)
        sizes = {run.run_id: len(journal.children(run.run_id)) for run in runs if _is_pipeline(run)}
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
                f"{run.action} (pipeline, {sizes[run.run_id]} action runs)"
                if _is_pipeline(run)
                else run.action,
                f"{run.state} (run: synapse runs rollback {run.run_id})"
                if run.needs_rollback
                else run.state,
                _when(run.started_at),
                _when(run.ended_at),
            ]
            for run in runs
        ],
    )


def _is_pipeline(run: RunRecord) -> bool:
    return run.kind == "pipeline"


@runs_group.command("show")
@click.argument("run_id")
@click.option("--full", is_flag=True, help="Show every step's rollback data in full.")
@json_option
def show_run(run_id: str, full: bool, as_json: bool) -> None:
    """One run with the state and rollback data of each step.

    By default each step's rollback data is summarised: per key, how many items it holds
    and the first few. --full prints it all; --json prints the whole record for scripts.
    """
    with open_journal() as journal:
        run = journal.get_run(run_id)
        children = journal.children(run_id) if run is not None and _is_pipeline(run) else []
    if run is None:
        raise CliError(f"no run with id '{run_id}'; see 'synapse runs list'")
    if as_json:
        record = run.to_dict()
        if _is_pipeline(run):
            record["actions"] = [child.to_dict() for child in children]
        click.echo(json.dumps(record, indent=2))
        return
    if _is_pipeline(run):
        _show_pipeline(run, children, full)
        return
    click.echo(f"run {run.run_id}: {run.action}, {run.state}")
    click.echo(f"started {_when(run.started_at)}, ended {_when(run.ended_at)}")
    if run.error:
        click.echo(f"error: {run.error}")
    if run.needs_rollback:
        click.echo(f"finish it with: synapse runs rollback {run.run_id}")
    click.echo(f"params: {_shown(run.params, full, limit=_SHORT_PARAMS)}")
    _print_steps(run, json.dumps if full else _counts)
    if not full:
        _print_samples(run)
    _print_tracebacks(run, full)


def _show_pipeline(run: RunRecord, children: list[RunRecord], full: bool) -> None:
    """A pipeline run: its state, then each action run with its steps, in the order they ran."""
    click.echo(f"pipeline run {run.run_id}: {run.action}, {run.state}")
    click.echo(f"started {_when(run.started_at)}, ended {_when(run.ended_at)}")
    if run.error:
        click.echo(f"error: {run.error}")
    if run.state == "failed":
        click.echo(
            f"the completed actions kept their outputs: continue with synapse runs resume "
            f"{run.run_id}, or undo them with synapse runs rollback {run.run_id}"
        )
    elif run.state == "needs_rollback":
        click.echo(
            f"unfinished: undo it with synapse runs rollback {run.run_id}, "
            f"or continue it with synapse runs resume {run.run_id}"
        )
    if not children:
        click.echo("no action ran")
    for child in children:
        click.echo(f"\naction {child.stage} ({child.action}), run {child.run_id}: {child.state}")
        if child.result is not None:
            click.echo(f"result: {_shown(child.result, full, limit=_SHORT_PARAMS)}")
        _print_steps(child, json.dumps if full else _counts)
        _print_tracebacks(child, full)


def _print_tracebacks(run: RunRecord, full: bool) -> None:
    """Each failed step's exception: its type and message, or (--full) the traceback."""
    for step in run.steps:
        if not step.traceback:
            continue
        if full:
            click.echo(f"\ntraceback of {step.name}:\n{step.traceback.rstrip()}")
        else:
            last = step.traceback.rstrip().splitlines()[-1]
            click.echo(f"\n{step.name} failed with {last}")
    if not full and any(step.traceback for step in run.steps):
        click.echo(f"(the traceback: synapse runs show {run.run_id} --full)")


def _print_samples(run: RunRecord) -> None:
    """The first items of each step's rollback data, below the steps' table."""
    for step in run.steps:
        if step.rollback_data:
            click.echo(f"\nrollback data of {step.name}:")
            for line in _first_items(step.rollback_data):
                click.echo(f"  {line}")
    if any(step.rollback_data for step in run.steps):
        click.echo(
            f"\n(first {SHOWN_ITEMS} items of each; all: synapse runs show {run.run_id} --full)"
        )


def _print_steps(run: RunRecord, rollback_data: Callable[[dict[str, Any]], str]) -> None:
    print_table(
        ["#", "STEP", "STATE", "ROLLBACK DATA", "ERROR"],
        [
            [
                step.position + 1,
                step.name,
                step.state,
                rollback_data(step.rollback_data) if step.rollback_data else "-",
                step.error or "",
            ]
            for step in run.steps
        ],
    )


SHOWN_ITEMS = 3
"""How many items of each rollback-data list or object ``runs show`` prints without --full."""

_SHORT = 96
"""Longest rollback-data item ``runs show`` prints without --full (in characters)."""

_SHORT_PARAMS = 300
"""Longest params ``runs show`` prints without --full (in characters)."""


def _shown(value: object, full: bool = False, limit: int = _SHORT) -> str:
    """``value`` as JSON; cut to ``limit`` characters unless ``full``."""
    text = json.dumps(value)
    return text if full or len(text) <= limit else f"{text[: limit - 3]}..."


def _counts(rollback_data: dict[str, Any]) -> str:
    """``folders: 1, written: 1204``: how many items each key holds (1 for a plain value)."""
    return ", ".join(f"{key}: {_size(value)}" for key, value in rollback_data.items())


def _size(value: object) -> int:
    return len(value) if isinstance(value, list | dict) else 1


def _first_items(rollback_data: dict[str, Any]) -> list[str]:
    """Per key, its size and first :data:`SHOWN_ITEMS` items, one line each."""
    lines = []
    for key, value in rollback_data.items():
        if not isinstance(value, list | dict):
            lines.append(f"{key}: {_shown(value)}")
            continue
        items = [{k: v} for k, v in value.items()] if isinstance(value, dict) else value
        noun = "key" if isinstance(value, dict) else "item"
        lines.append(f"{key}: {len(items)} {noun}{'' if len(items) == 1 else 's'}")
        lines += [f"  {_shown(item)}" for item in items[:SHOWN_ITEMS]]
        if len(items) > SHOWN_ITEMS:
            lines.append(f"  ... and {len(items) - SHOWN_ITEMS} more")
    return lines


@runs_group.command("rollback")
@click.argument("run_id")
@click.option(
    "--params-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON params overriding the journalled ones (needed for secret fields).",
)
@json_option
@verbose_option
def rollback(run_id: str, params_file: Path | None, as_json: bool, verbose: bool) -> None:
    """Roll back a run left unfinished by a crash, from the journal.

    Every step that ran and is not undone yet is rolled back in reverse order with the
    rollback data the journal holds. Safe to repeat: steps already rolled back are skipped.
    For a pipeline run (unfinished, or failed with --keep-completed) every action that ran
    is undone, last first; its --params-file is keyed by action id.
    Shown as `synapse run` shows a rollback: one line per step, warnings and errors (-v:
    every log).
    """

    from synapse_sdk.errors import (
        ActionNotFoundError,
        InvalidParamsError,
        PipelineError,
        RunAbandoned,
        RunInUseError,
        RunTerminated,
    )
    from synapse_sdk.journal.recovery import rollback_run
    from synapse_sdk.pipeline import rollback_pipeline

    params = load_params(None, params_file)
    host = load_plugin_host()
    with open_journal() as journal:
        ctx = _rollback_screen(journal, run_id, host, verbose=verbose and not as_json)
        found = journal.get_run(run_id)
        try:
            if found is not None and _is_pipeline(found):
                run = rollback_pipeline(journal, run_id, plugins=host, ctx=ctx, params=params)
            else:
                run = rollback_run(journal, run_id, plugins=host, ctx=ctx, params=params)
        except (
            PipelineError,
            RecoveryError,
            RunInUseError,
            ActionNotFoundError,
            InvalidParamsError,
            ActionLoadError,
        ) as exc:
            raise CliError(str(exc)) from exc
        except (KeyboardInterrupt, RunTerminated, RunAbandoned):
            # The command line's entry point turns the signal into its exit code.
            CliError(f"interrupted; run 'synapse runs rollback {run_id}' again to finish").show()
            raise
        finally:
            ctx.close()
        # Only a failed rollback names what it kept: a rolled back run reads nothing more.
        failed = run.state == "rollback_failed"
        children = [child.run_id for child in journal.children(run.run_id)] if failed else []
    if as_json:
        click.echo(json.dumps({"run_id": run.run_id, "action": run.action, "state": run.state}))
    else:
        click.echo(f"run {run.run_id} ({run.action}): {run.state}")
        note = kept_copies_note([run.run_id, *children]) if failed else ""
        if note:
            click.echo(note.removeprefix(". "))
    if run.state != "rolled_back":
        raise SystemExit(EXIT_FAILED)


def _rollback_screen(
    journal: RunJournal, run_id: str, host: PluginHost, *, verbose: bool
) -> RuntimeContext:
    """The runtime context of a rollback: its logs on the terminal, as in ``synapse run``."""
    from synapse_sdk.runtime.context import RuntimeContext, quiet_logger

    run = journal.get_run(run_id)
    title = run.action if run is not None else run_id
    screen = screen_sink(title, verbose=verbose)
    return RuntimeContext(sinks=[screen], logger=quiet_logger(), settings=settings())


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
    whatever their age: they are still someone's to finish. The undo area a
    rollback_failed run kept goes with it.
    """
    from synapse_sdk.storage.undo_area import discard_undo_area

    seconds = _duration(older_than)
    with open_journal() as journal:
        removed = journal.prune(seconds, set(states) or None)
    for run in removed:
        discard_undo_area(settings(), run.run_id)
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
