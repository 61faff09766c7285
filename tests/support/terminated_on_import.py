"""A module whose import is stopped by SIGTERM while one of its classes is being created.

``synapse plan support.terminated_on_import:LostInterruptAction`` must exit 143: on Python
3.11 the signal's exception reaches the command wrapped in a ``RuntimeError``.
"""

from __future__ import annotations

import signal

from support.lost_interrupt import LostInterruptAction
from support.wrapped_interrupt import class_created_under

__all__ = ["LostInterruptAction"]

class_created_under(signal.SIGTERM)
