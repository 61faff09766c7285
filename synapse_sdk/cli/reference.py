"""The CLI reference page (docs/cli.md), generated from the commands' own help.

``python -m synapse_sdk.cli.reference > docs/cli.md`` regenerates it; a test fails when the
committed page differs from what the commands say, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from synapse_sdk.cli import cli
from synapse_sdk.cli.common import RUN_EXIT_CODES

__all__ = ["render_reference"]

_HEADER = """# CLI reference

Generated from `synapse --help` and every subcommand's help by
`python -m synapse_sdk.cli.reference > docs/cli.md`; a test checks it is up to date.

Exit codes of `synapse run`:

{exit_codes}

Environment: `SYNAPSE_DISABLE_PLUGINS=a,b` skips hook plugins by entry-point name (and
`DIST:NAME` there hides the action NAME of distribution DIST), `SYNAPSE_LOAD_PLUGINS=a,b`
loads only those (empty: none), `SYNAPSE_STRICT_PLUGINS=1` turns a plugin that fails to
load, or an action name that two distributions install, into an error (exit 2), and
`SYNAPSE_TRACE_PLUGINS=1` prints every hook call with each plugin's time to stderr.
"""


def _walk(
    command: click.Command, path: list[str], parent: click.Context | None
) -> Iterator[tuple[list[str], str]]:
    settings = {**command.context_settings, "terminal_width": 100, "max_content_width": 100}
    ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
    yield path, command.get_help(ctx)
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from _walk(sub, [*path, name], ctx)


def _exit_code_table() -> str:
    rows = [f"| {code} | {meaning} |" for code, meaning in RUN_EXIT_CODES.items()]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


def render_reference() -> str:
    """The Markdown text of the CLI reference."""
    sections = [_HEADER.format(exit_codes=_exit_code_table())]
    for path, text in _walk(cli, ["synapse"], None):
        sections.append(f"## `{' '.join(path)}`\n\n```text\n{text}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    print(render_reference(), end="")
