"""The placeholder written in place of a secret, in logs, events, errors and the journal.

It has a module of its own because both the event encoder (which must stay free of
pydantic) and the pydantic-aware redaction in :mod:`synapse_sdk.runtime.secrets` use it.
"""

__all__ = ["REDACTED"]

REDACTED = "**********"
"""What a secret value looks like in logs, events and errors."""
