"""What every ``synapse`` command shares: exit codes, errors, params input, tables.

Only click is imported here; the SDK's heavier modules are imported by each command
when it runs, so that ``synapse --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from synapse_sdk.errors import JournalError
from synapse_sdk.fanout import EXECUTORS

if TYPE_CHECKING:
    from collections.abc import Callable

    from synapse_sdk.host.manager import PluginHost
    from synapse_sdk.journal.store import RunJournal
    from synapse_sdk.run.runner import Placement
    from synapse_sdk.runtime.settings import Settings
    from synapse_sdk.runtime.terminal import TerminalSink

__all__ = [
    "EXIT_FAILED",
    "EXIT_HANGUP",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "RUN_EXIT_CODES",
    "CliError",
    "forward_env",
    "load_params",
    "placement_of",
    "ray_options",
    "load_plugin_host",
    "kept_copies_note",
    "open_journal",
    "settings",
    "print_table",
    "exit_code_lines",
    "quiet_option",
    "screen_sink",
    "verbose_option",
    "warn",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_HANGUP = 129
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

RUN_EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILED: "the action failed (its steps were rolled back)",
    EXIT_USAGE: "bad usage, unknown action, invalid params, or bad input (a step raised "
    "StepInputError)",
    EXIT_HANGUP: "the terminal closed (SIGHUP; its steps were rolled back)",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C (its steps were rolled back)",
    EXIT_TERMINATED: "terminated by SIGTERM (its steps were rolled back)",
}
"""Every exit code of ``synapse run`` and what it means: the one source of its help text
and of the table in docs/cli.md."""


def exit_code_lines() -> list[str]:
    """:data:`RUN_EXIT_CODES` as aligned lines, ``"130  interrupted by Ctrl-C (...)"``."""
    return [f"{code:<4} {meaning}" for code, meaning in RUN_EXIT_CODES.items()]


class CliError(click.ClickException):
    """A user-facing error: printed as ``error: message`` (no traceback), then exit."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        # click declares exit_code on the class; each CliError carries its own.
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.secho(f"error: {self.format_message()}", err=True, fg="red")


verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also show info logs and metrics, and the full traceback of a crash.",
)
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Show only the result (and the error, if any)."
)


def screen_sink(title: str, *, verbose: bool = False) -> TerminalSink:
    """The terminal renderer every command uses: the same screen for a run and a rollback.

    By default: the progress bar, one line per step, and warnings and errors. ``verbose``
    adds info logs and metrics.
    """
    from synapse_sdk.runtime.terminal import TerminalSink

    return TerminalSink(
        title=title,
        min_level="info" if verbose else "warning",
        show_metrics=verbose,
    )


def warn(message: str) -> None:
    click.secho(f"warning: {message}", err=True, fg="yellow")


MAX_PARAMS_DEPTH = 100
"""Deepest nesting of arrays and objects accepted in params (``{}`` is one level)."""

MAX_INT_DIGITS = 4300
"""Most digits an integer in params may have (Python's own default limit)."""

# One JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class _HostileJson(ValueError):
    """Raised by the JSON parser's hooks: valid JSON syntax that params do not accept."""


def load_params(params_json: str | None, params_file: Path | None) -> dict[str, Any] | None:
    """Params from ``--params`` (a JSON object) or ``--params-file`` (a UTF-8 JSON file).

    Hostile or malformed input is a :class:`CliError` (exit 2, one line), never a
    traceback: see :func:`_parse_params` for what is refused and why.
    """
    if params_json is not None and params_file is not None:
        raise CliError("give either --params or --params-file, not both")
    if params_file is not None:
        source = f"params file {params_file}"
        text = _decode_utf8(_read_bytes(params_file), source)
    elif params_json is not None:
        text, source = params_json, "--params"
    else:
        return None
    return _parse_params(text, source)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read params file {path}: {exc.strerror}") from exc


def _decode_utf8(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text (a UTF-8 byte-order mark is allowed and dropped).

    A NUL byte cannot appear in JSON text, but every ASCII character has one in UTF-16
    and UTF-32: checking for it catches those files even without a byte-order mark.
    """
    remedy = "it must be UTF-8 JSON (save it with the UTF-8 encoding)"
    if b"\x00" in data:
        raise CliError(f"{source} is not UTF-8 (it looks like UTF-16 or UTF-32); {remedy}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{source} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); {remedy}"
        ) from None  # the exception's repr would echo the file's bytes


def _parse_params(text: str, source: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object, refusing what would crash or mislead later.

    Refused, each with a one-line :class:`CliError`: nesting deeper than
    :data:`MAX_PARAMS_DEPTH` (Python's parser would hit its recursion limit), integers
    longer than :data:`MAX_INT_DIGITS` digits, ``NaN``/``Infinity`` and numbers too large
    for a float (not JSON, and JSON writers would emit them back), a key given twice in
    one object (the first value would be dropped silently), text that is not valid
    Unicode, and any top level other than an object.
    """
    _check_depth(text, source)
    try:
        params = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except _HostileJson as exc:
        raise CliError(f"{source} {exc}") from None
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            """expected an object such as '{"source": "data/"}'"""
        ) from exc
    if not isinstance(params, dict):
        raise CliError(f"{source} must be a JSON object, got {type(params).__name__}")
    _check_unicode(params, source)
    return params


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than :data:`MAX_PARAMS_DEPTH` before parsing.

    Text with fewer brackets than the limit cannot be too deep, so ordinary params are
    only counted, never scanned.
    """
    if text.count("[") + text.count("{") <= MAX_PARAMS_DEPTH:
        return
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > MAX_PARAMS_DEPTH:
                raise CliError(
                    f"{source} is nested more than {MAX_PARAMS_DEPTH} levels deep "
                    f"(arrays and objects); params may nest at most {MAX_PARAMS_DEPTH} levels"
                )
        elif char in "]}":
            depth -= 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _HostileJson(
                f"has the key {_shorten(key)!r} twice in one object; give each field once"
            )
        result[key] = value
    return result


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _HostileJson(
            f"has an integer of {digits} digits; at most {MAX_INT_DIGITS} are allowed"
        )
    try:
        return int(literal)
    except ValueError:  # the interpreter's own limit may be set lower
        raise _HostileJson(f"has an integer of {digits} digits, too long to convert") from None


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _HostileJson(f"has the number {_shorten(literal)}, too large for a 64-bit float")
    return value


def _no_constant(name: str) -> Any:
    raise _HostileJson(f"uses {name}, which is not a JSON number")


def _check_unicode(params: dict[str, Any], source: str) -> None:
    """Refuse lone surrogates: from ``\\ud800``-style escapes or non-UTF-8 command lines.

    They parse, but every later writer (the terminal, JSON lines) fails on them.
    """
    try:
        json.dumps(params, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise CliError(
            f"{source} holds text that is not valid Unicode (a lone surrogate, from a "
            "\\udXXX escape or bytes that are not UTF-8); params must be UTF-8 JSON"
        ) from None


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def forward_env(names: tuple[str, ...]) -> None:
    """Set the variables ``names`` on the Ray workers of this command's runs (``--env``).

    The same as listing them in ``$SYNAPSE_RAY_ENV``, which is where they are added, before
    the command reads its settings.
    """
    if not names:
        return
    from synapse_sdk.runtime.settings import RAY_ENV

    unset = [name for name in names if name not in os.environ]
    if unset:
        raise CliError(
            f"--env {unset[0]}: no such variable here; set it before the command, or drop it"
        )
    listed = [name for name in os.environ.get(RAY_ENV, "").split(",") if name]
    os.environ[RAY_ENV] = ",".join(dict.fromkeys([*listed, *names]))
    settings.cache_clear()


@functools.cache
def settings() -> Settings:
    """This command's settings: the ``SYNAPSE_*`` variables, read once per process."""
    from synapse_sdk.runtime.settings import Settings

    return Settings.from_env()


def load_plugin_host() -> PluginHost:
    """The plugin host of this command's settings; load failures become warnings (errors
    when strict)."""
    from synapse_sdk.errors import PluginLoadError
    from synapse_sdk.host.manager import plugin_host

    try:
        host = plugin_host(settings())
    except PluginLoadError as exc:
        raise CliError(str(exc)) from exc
    for record in host.failures:
        warn(
            f"plugin '{record.name}' ({record.distribution or 'unknown distribution'}) "
            f"failed to load: {record.error}"
        )
    return host


def kept_copies_note(run_ids: list[str]) -> str:
    """Where runs whose rollback failed keep the content they replaced, as a sentence."""
    from synapse_sdk.storage.undo_area import kept_undo_area

    areas = [str(area) for run_id in run_ids if (area := kept_undo_area(settings(), run_id))]
    if not areas:
        return ""
    return f". The previous content of the objects it replaced is kept in {', '.join(areas)}"


@contextmanager
def open_journal() -> Iterator[RunJournal]:
    """The user's run journal; a journal problem becomes a CLI error (exit 1), no traceback."""
    from synapse_sdk.journal.store import RunJournal

    try:
        journal = RunJournal(settings().journal_path)
    except JournalError as exc:
        raise CliError(str(exc), exit_code=EXIT_FAILED) from exc
    try:
        yield journal
    except JournalError as exc:
        raise CliError(str(exc), exit_code=EXIT_FAILED) from exc
    finally:
        journal.close()


PLAN_HEADERS = ("STEP", "WEIGHT", "FROM", "WRAPPED BY", "OWN ROLLBACK")
"""The columns of a plan's step table (``synapse plan``, ``synapse pipeline plan``)."""
STORAGE_UNDO_NOTE = (
    "Writes through context.storage are undone by the SDK, in every step;\n"
    "OWN ROLLBACK: the step's own rollback() undoes anything else."
)
"""Printed under a plan: a step without a rollback of its own is still undone."""


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


def placement_of(
    executor: str | None,
    ray_address: str | None,
    no_ship: bool = False,
    env_names: tuple[str, ...] = (),
) -> Placement:
    """The placement the Ray options ask for; ``--env`` names are forwarded from now on."""
    from synapse_sdk.errors import ExecutorError
    from synapse_sdk.run.runner import Placement

    if executor == "local" and ray_address:
        raise CliError("--ray-address is for --executor ray; drop one of them")
    try:
        placement = Placement.of(executor, ray_address, ship=not no_ship)
    except ExecutorError as exc:
        raise CliError(str(exc)) from exc
    if placement.executor != "ray" and (no_ship or env_names):
        raise CliError("--no-ship and --env are for a run on Ray (--executor ray)")
    forward_env(env_names)
    return placement


def ray_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--executor, --ray-address, --no-ship and --env: where a run goes, and what with."""
    options = [
        click.option(
            "--executor",
            type=click.Choice(EXECUTORS),
            default=None,
            help="Where it runs: here (local, the default) or on a Ray cluster (ray).",
        ),
        click.option(
            "--ray-address",
            metavar="ADDR",
            default=None,
            help="Ray cluster to join, HOST:PORT of its head node (implies --executor ray). "
            "Default for --executor ray: $RAY_ADDRESS, else a local Ray started for the run.",
        ),
        click.option(
            "--no-ship",
            is_flag=True,
            help="Ray: do not send the code to the workers (the cluster has the SDK and the "
            "plugins installed).",
        ),
        click.option(
            "--env",
            "env_names",
            metavar="NAME",
            multiple=True,
            help="Ray: also set this environment variable on the workers (repeat for more; "
            "or SYNAPSE_RAY_ENV=NAME,NAME). SYNAPSE_* variables always are.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function
