"""``synapse new plugin``: scaffold a plugin package."""

from __future__ import annotations

from pathlib import Path

import click

from synapse_sdk.cli.common import CliError
from synapse_sdk.errors import ScaffoldError

__all__ = ["new_group", "next_commands"]


@click.group("new")
def new_group() -> None:
    """Create new things from templates."""


@new_group.command("plugin")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["upload", "export", "train"]),
    required=True,
    help="The kind of action the plugin provides.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package folder.",
)
def new_plugin(name: str, kind: str, directory: Path) -> None:
    """Write a ready-to-install plugin package NAME with one action of KIND.

    NAME must not be installed already, as an action or a distribution.

    The package has a pyproject with the entry point, one action with two steps and a
    test that uses the SDK's pytest fixtures. Next, in the virtual environment where
    synapse-sdk is installed (with NAME under --directory when it is not "."):

    \b
      pip install -e 'NAME[test]'
      synapse plan NAME
      pytest NAME
    """
    import synapse_sdk
    from synapse_sdk.actions.catalog import installed_claims
    from synapse_sdk.scaffold import create_plugin

    claims = installed_claims(name)
    if claims:
        raise CliError(
            f"'{name}' is already installed ({'; '.join(claims)}): a plugin of that name "
            "would conflict with it. Choose another name, or uninstall the installed one first"
        )
    version = synapse_sdk.__version__.split("+")[0]
    try:
        root = create_plugin(name, kind, directory, sdk_version=version)
    except ScaffoldError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"Created {root}/")
    click.echo("Next, in the virtual environment where synapse-sdk is installed:")
    for command in next_commands(name, root):
        click.echo(f"  {command}")


def next_commands(name: str, root: Path) -> list[str]:
    """What to run after ``synapse new plugin`` (the help text lists the same three)."""
    return [f"pip install -e '{root}[test]'", f"synapse plan {name}", f"pytest {root}"]
