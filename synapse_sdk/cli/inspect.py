"""Commands that look without running: ``actions list``, ``actions schema``, ``plugins list``,
``plan``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from synapse_sdk.cli.common import (
    PLAN_HEADERS,
    STORAGE_UNDO_NOTE,
    CliError,
    load_params,
    load_plugin_host,
    placement_of,
    print_table,
    ray_options,
    settings,
    warn,
)
from synapse_sdk.errors import ActionLoadError

if TYPE_CHECKING:
    from synapse_sdk.actions.catalog import ActionEntry
    from synapse_sdk.host.manager import PluginHost
    from synapse_sdk.ray.shipping import Shipment
    from synapse_sdk.run.runner import Placement

__all__ = ["actions_group", "plan_command", "plugins_group"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
params_options = [
    click.option("--params", "params_json", metavar="JSON", help="Params as a JSON object."),
    click.option(
        "--params-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read params from a JSON file.",
    ),
]


def with_params(function: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(params_options):
        function = option(function)
    return function


@contextmanager
def action_errors() -> Iterator[None]:
    """Finding or building an action: a CLI error saying what is installed or wrong.

    An unknown or ambiguous name and invalid params are usage errors (exit 2); an action
    that is installed but cannot be imported is a failure (exit 1).
    """
    from synapse_sdk.errors import ActionConflictError, ActionNotFoundError, InvalidParamsError

    try:
        yield
    except (ActionNotFoundError, ActionConflictError, InvalidParamsError) as exc:
        raise CliError(str(exc)) from exc
    except ActionLoadError as exc:
        raise CliError(str(exc), exit_code=1) from exc


def resolve(name: str):  # type: ignore[no-untyped-def]
    """The action class for ``name``, or a CLI error (exit 2) saying what is installed.

    ``name`` may be ``DIST:NAME`` to pick one of several distributions installing ``NAME``.
    """
    from synapse_sdk.actions.catalog import resolve_action

    with action_errors():
        return resolve_action(name, settings())


@click.group("actions")
def actions_group() -> None:
    """List installed actions and show their params."""


@actions_group.command("list")
@json_option
def list_actions(as_json: bool) -> None:
    """Every installed action: name, kind, distribution, version, description (broken too).

    A name that two distributions install is listed once per distribution, as a conflict:
    run one as DIST:NAME.
    """
    from synapse_sdk.actions.catalog import discover_actions
    from synapse_sdk.errors import ActionConflictError

    try:
        entries = discover_actions(settings())
    except ActionConflictError as exc:  # SYNAPSE_STRICT_PLUGINS is on
        raise CliError(str(exc)) from exc
    if as_json:
        payload = [
            {
                "name": entry.name,
                "kind": entry.kind,
                "target": entry.target,
                "distribution": entry.distribution,
                "version": entry.version,
                "error": entry.error,
                "conflicts_with": list(entry.conflicts),
                "description": _summary_line(entry.action_class),
            }
            for entry in entries
        ]
        click.echo(json.dumps(payload, indent=2))
        return
    if not entries:
        click.echo("No actions installed. Install a plugin package that provides some.")
        return
    print_table(
        ["NAME", "KIND", "DISTRIBUTION", "VERSION", "STATUS", "DESCRIPTION"],
        [
            [
                entry.name,
                entry.kind,
                entry.distribution or "-",
                entry.version or "-",
                _status(entry),
                _summary_line(entry.action_class),
            ]
            for entry in entries
        ],
    )
    conflicts = sorted({entry.name for entry in entries if entry.conflicts})
    for name in conflicts:
        choices = [entry.qualified_name for entry in entries if entry.name == name]
        warn(
            f"action '{name}' is installed by {len(choices)} distributions; "
            f"'synapse run {name}' refuses to guess: run {' or '.join(choices)}, or hide "
            f"one with SYNAPSE_DISABLE_PLUGINS={choices[-1]}"
        )


def _status(entry: ActionEntry) -> str:
    if entry.error:
        return f"broken: {entry.error}"
    if entry.conflicts:
        return f"conflict (also in {', '.join(entry.conflicts)}): run as {entry.qualified_name}"
    return "ok"


def _summary_line(action_class: type | None) -> str:
    """The first line of the action class's own docstring (not one it inherits)."""
    doc = action_class.__dict__.get("__doc__") if action_class is not None else None
    return inspect.cleandoc(doc).partition("\n")[0] if doc else ""


@actions_group.command("schema")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the params' JSON Schema.")
def action_schema(name: str, as_json: bool) -> None:
    """Show the params of action NAME: type, required, default and description of each.

    Secret fields (never kept in the journal or the logs) say so in their type.
    """
    from synapse_sdk.cli.params_table import param_rows

    action_class, resolved = resolve(name)
    schema = action_class.params_model.model_json_schema()
    if as_json:
        click.echo(json.dumps(schema, indent=2))
        return
    rows = param_rows(schema)
    if not rows:
        click.echo(f"Action '{resolved}' takes no params.")
        return
    click.echo(f"Params of '{resolved}' ({action_class.kind}):")
    print_table(
        ["FIELD", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"],
        [
            [row.field, row.type, "yes" if row.required else "no", row.default, row.description]
            for row in rows
        ],
    )


@click.group("plugins")
def plugins_group() -> None:
    """Inspect installed hook plugins."""


@plugins_group.command("list")
@json_option
def list_plugins(as_json: bool) -> None:
    """Every hook plugin: its hooks, distribution, version and load errors."""
    from synapse_sdk.errors import PluginLoadError
    from synapse_sdk.host.manager import plugin_host

    try:
        host = plugin_host(settings())
    except PluginLoadError as exc:
        raise CliError(str(exc)) from exc
    records = sorted(host.records.values(), key=lambda record: record.name)
    if as_json:
        payload = [
            {
                "name": record.name,
                "status": record.status,
                "hooks": record.hooks,
                "distribution": record.distribution,
                "version": record.version,
                "error": record.error,
            }
            for record in records
        ]
        click.echo(json.dumps(payload, indent=2))
        return
    if not records:
        click.echo("No hook plugins installed.")
        return
    print_table(
        ["NAME", "STATUS", "DISTRIBUTION", "VERSION", "HOOKS", "ERROR"],
        [
            [
                record.name,
                record.status,
                record.distribution or "-",
                record.version or "-",
                ", ".join(record.hooks) or "-",
                record.error or "",
            ]
            for record in records
        ],
    )


@click.command("plan")
@click.argument("name")
@with_params
@json_option
@ray_options
def plan_command(
    name: str,
    params_json: str | None,
    params_file: Path | None,
    as_json: bool,
    executor: str | None,
    ray_address: str | None,
    no_ship: bool,
    env_names: tuple[str, ...],
) -> None:
    """Show the steps action NAME would run, without running anything.

    Params are optional here: without them the plan is built from the params' defaults.
    With --executor ray (or --ray-address) it also joins the cluster and shows what a run
    would ship to its workers: the packages and their size, and the requirements the
    workers lack (installed there with pip by the run's runtime environment).
    """
    placement = placement_of(executor, ray_address, no_ship, env_names)
    from synapse_sdk.errors import InvalidParamsError, PluginHookError

    params = load_params(params_json, params_file)
    host = load_plugin_host()
    action_class, resolved = resolve(name)
    try:
        if params is None:
            action = action_class.for_planning(None, plugins=host, name=resolved)
        else:
            action = action_class(params, plugins=host, name=resolved)
        plan = action.plan()
    except InvalidParamsError as exc:
        raise CliError(str(exc)) from exc
    except PluginHookError as exc:
        raise CliError(str(exc), exit_code=1) from exc
    from synapse_sdk.storage.urls import url_protocols

    shipment = _shipment(placement, action_class, host, url_protocols(params or {}))
    if as_json:
        payload = {
            "action": plan.action,
            "shipment": None if shipment is None else shipment.to_dict(),
            "steps": [
                {
                    "position": step.position,
                    "name": step.name,
                    "weight": step.weight,
                    "percent": step.percent,
                    "contributed_by": step.contributed_by,
                    "wrapped_by": list(step.wrapped_by),
                    "has_rollback": step.has_rollback,
                }
                for step in plan.steps
            ],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if not plan.steps:
        click.echo(f"Action '{plan.action}' has no steps: it runs its execute() method in one go.")
        return
    click.echo(f"Plan for '{plan.action}' ({action_class.kind}), {len(plan.steps)} steps:")
    print_table(
        ["#", *PLAN_HEADERS],
        [
            [
                step.position,
                step.name,
                f"{step.percent:.1f}%",
                step.contributed_by,
                ", ".join(step.wrapped_by) or "-",
                "yes" if step.has_rollback else "no",
            ]
            for step in plan.steps
        ],
    )
    click.echo(f"\n{STORAGE_UNDO_NOTE}")
    if shipment is not None:
        _print_shipment(shipment)
    elif placement.executor == "ray" and placement.ship:
        click.echo(
            "\nNothing is shipped: a Ray started for the run shares this environment "
            "(give --ray-address to see what a cluster would get)."
        )


def _shipment(
    placement: Placement, action_class: type, host: PluginHost, protocols: set[str]
) -> Shipment | None:
    """What a run on a Ray cluster would ship (None: a local run, or nothing to ship)."""
    address = placement.ray_address or settings().ray_address
    if placement.executor != "ray" or not placement.ship or address is None:
        return None
    from synapse_sdk.errors import ExecutorError
    from synapse_sdk.run.runner import modules_of, place

    try:
        place(placement, settings())
        from synapse_sdk.ray.shipping import probe, shipment_for

        return probe(shipment_for(modules_of(action_class, host), protocols), address)
    except ExecutorError as exc:
        raise CliError(str(exc)) from exc


def _print_shipment(shipment: Shipment) -> None:
    click.echo(
        f"\nShipped to the Ray workers (py_modules), {shipment.size / 1000:.1f} kB in all; "
        "uploaded once per content:"
    )
    print_table(
        ["PACKAGE", "DISTRIBUTION", "VERSION", "EDITABLE", "SIZE"],
        [
            [
                package.name,
                package.distribution or "-",
                package.version or "-",
                "yes" if package.editable else "no",
                f"{package.size / 1000:.1f} kB",
            ]
            for package in shipment.packages
        ],
    )
    if shipment.missing and not shipment.can_install:
        click.echo(
            f"The workers lack {', '.join(shipment.missing)} and cannot install them "
            "(no virtualenv there): a run would be refused"
        )
    elif shipment.missing:
        click.echo(f"Installed on the workers with pip: {', '.join(shipment.missing)}")
    else:
        click.echo("The workers have every requirement: nothing to install with pip.")
