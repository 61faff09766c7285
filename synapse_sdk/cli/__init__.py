"""The ``synapse`` command: list, plan and run actions; inspect plugins."""

from __future__ import annotations

import io
import os
import sys
import threading

import click

from synapse_sdk.cli.common import EXIT_FAILED, EXIT_INTERRUPTED
from synapse_sdk.cli.inspect import actions_group, plan_command, plugins_group
from synapse_sdk.cli.new import new_group
from synapse_sdk.cli.pipeline import pipeline_group, resume_command
from synapse_sdk.cli.run import run_command
from synapse_sdk.cli.runs import runs_group
from synapse_sdk.errors import RunAbandoned
from synapse_sdk.interrupts import (
    handle_run_signals,
    ignore_run_signals,
    raise_lost_interrupt,
    signals_unwrapped,
)

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
      synapse pipeline run nightly.toml
    """


cli.add_command(actions_group)
cli.add_command(plugins_group)
cli.add_command(plan_command)
cli.add_command(run_command)
cli.add_command(new_group)
cli.add_command(runs_group)
cli.add_command(pipeline_group)
runs_group.add_command(resume_command)


def _exit_code() -> int:
    """Run the command line; the documented exit code whatever stops it.

    Ctrl-C is exit 130 from the first moment the command runs, SIGTERM 143 and SIGHUP 129
    (a closed terminal): never click's "Aborted!" with exit 1, never a traceback.
    """
    try:
        with signals_unwrapped():  # a signal that reached us as another error
            result = cli.main(prog_name="synapse", standalone_mode=False)
        raise_lost_interrupt()  # a signal CPython dropped while the command ran
    except click.exceptions.Abort as exc:  # click's word for a KeyboardInterrupt or EOF
        return EXIT_INTERRUPTED if isinstance(exc.__cause__, KeyboardInterrupt) else EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except RunAbandoned as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:  # a command's sys.exit(code), or RunTerminated
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point.

    Run signals are exceptions from the start (see :mod:`synapse_sdk.interrupts`) and are
    ignored once the exit code is known, so a late Ctrl-C cannot turn a finished command
    into a killed one. Output never fails on a file name that is not UTF-8.

    The exit is bounded: a worker thread that a stopped fan-out could not settle (a copy
    stuck in the kernel) must not keep the process alive after everything is journalled,
    so the process then leaves without waiting for it.
    """
    handle_run_signals()
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        code = _exit_code()
    except KeyboardInterrupt:  # between the command's end and the line below
        code = EXIT_INTERRUPTED
    ignore_run_signals()
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
