"""What the whole suite needs from the process it runs in."""

from __future__ import annotations

import signal

# A shell starts a background job (`nox ... &` in a script) with SIGINT ignored, and Python
# then leaves it ignored: Ctrl-C raises nothing, and every process the suite starts (a Ray
# cluster's among them) inherits the ignored signal, so Ray cannot cancel a running task.
# The suite tests what Ctrl-C does: it runs with Python's usual handler, however launched.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
