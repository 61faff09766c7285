"""The ``synapse`` command: list, plan and run actions; inspect plugins."""

from __future__ import annotations

import click

from synapse_sdk.cli.inspect import actions_group, plan_command, plugins_group
from synapse_sdk.cli.new import new_group
from synapse_sdk.cli.run import run_command
from synapse_sdk.cli.runs import runs_group

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="synapse-sdk", prog_name="synapse")
def cli() -> None:
    """Run synapse-sdk actions and inspect the installed plugins.

    \b
    Examples:
      synapse actions list
      synapse plan upload-files
      synapse run upload-files --params '{"source": "data/", "target": "out/"}'
    """


cli.add_command(actions_group)
cli.add_command(plugins_group)
cli.add_command(plan_command)
cli.add_command(run_command)
cli.add_command(new_group)
cli.add_command(runs_group)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="synapse")
