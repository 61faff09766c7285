"""What every ``synapse`` command shares: exit codes, errors, params input, tables.

Only click is imported here; the SDK's heavier modules are imported by each command
when it runs, so that ``synapse --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.plugins.manager import PluginHost

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "CliError",
    "load_params",
    "load_plugin_host",
    "open_journal",
    "print_table",
    "warn",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class CliError(click.ClickException):
    """A user-facing error: printed as ``error: message`` (no traceback), then exit."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        # click declares exit_code on the class; each CliError carries its own.
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.secho(f"error: {self.format_message()}", err=True, fg="red")


def warn(message: str) -> None:
    click.secho(f"warning: {message}", err=True, fg="yellow")


def load_params(params_json: str | None, params_file: Path | None) -> dict[str, Any] | None:
    """Params from ``--params`` (a JSON object) or ``--params-file`` (a JSON file)."""
    if params_json is not None and params_file is not None:
        raise CliError("give either --params or --params-file, not both")
    if params_file is not None:
        try:
            text = params_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read params file {params_file}: {exc.strerror}") from exc
        source = f"params file {params_file}"
    elif params_json is not None:
        text, source = params_json, "--params"
    else:
        return None
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            """expected an object such as '{"source": "data/"}'"""
        ) from exc
    if not isinstance(params, dict):
        raise CliError(f"{source} must be a JSON object, got {type(params).__name__}")
    return params


def load_plugin_host() -> PluginHost:
    """The process-wide plugin host; load failures become warnings (errors when strict)."""
    from synapse_sdk.exceptions import PluginLoadError
    from synapse_sdk.plugins.manager import get_plugin_host

    try:
        host = get_plugin_host()
    except PluginLoadError as exc:
        raise CliError(str(exc)) from exc
    for record in host.failures:
        warn(
            f"plugin '{record.name}' ({record.distribution or 'unknown distribution'}) "
            f"failed to load: {record.error}"
        )
    return host


@contextmanager
def open_journal() -> Iterator[RunJournal]:
    """The user's run journal; a journal problem becomes a CLI error (exit 1), no traceback."""
    from synapse_sdk.journal.store import JournalError, RunJournal, default_journal_path

    try:
        journal = RunJournal(default_journal_path())
    except JournalError as exc:
        raise CliError(str(exc), exit_code=EXIT_FAILED) from exc
    try:
        yield journal
    except JournalError as exc:
        raise CliError(str(exc), exit_code=EXIT_FAILED) from exc
    finally:
        journal.close()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print aligned columns, one line per row. Cells are never shortened."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    bold = sys.stdout.isatty()

    def line(values: Sequence[str]) -> str:
        padded = [value.ljust(width) for value, width in zip(values, widths, strict=True)]
        return "  ".join(padded).rstrip()

    click.secho(line(headers), bold=bold)
    for row in cells:
        click.echo(line(row))
