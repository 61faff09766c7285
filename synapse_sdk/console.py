"""The ``synapse`` console script: signal handling first, then the command line.

The command line (:mod:`synapse_sdk.cli`) imports click, pydantic and its commands, which
takes a while; a Ctrl-C that lands meanwhile must already be exit 130, not a traceback.
Nothing has been written while the SDK loads, so until the command line installs the
SDK's own handlers (:mod:`synapse_sdk.interrupts`) a run signal ends the process at once
with the shell's code for it. At once, not with an exception: an exception raised by a
handler can land where CPython drops it (the import system's weakref callbacks run on
every import), and the command would then carry on as if never stopped.

So this module imports nothing of the SDK at module level; the import of the command
line sits inside :func:`main` on purpose: it must come after the first handlers.
"""

import _signal  # type: ignore[import-not-found]  # the C module: ``signal`` imports enum, slow
import os

TYPE_CHECKING = False  # as in the package's ``__init__``: no ``typing`` before the handlers
if TYPE_CHECKING:
    from types import FrameType

_RUN_SIGNALS: tuple[int, ...] = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)

__all__ = ["main"]


def _exit_at_once(signum: int, frame: "FrameType | None") -> None:
    os._exit(128 + signum)  # 130, 143, 129: as the shell reports the signal


def main() -> None:
    """Console-script entry point (``synapse``)."""
    for signum in _RUN_SIGNALS:
        _signal.signal(signum, _exit_at_once)
    from synapse_sdk.cli import main as command_line

    command_line()  # installs the SDK's handlers first thing
