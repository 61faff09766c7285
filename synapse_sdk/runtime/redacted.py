"""The placeholder written in place of a secret, and the names that mark one in options.

It has a module of its own because both the event encoder (which must stay free of
pydantic) and the pydantic-aware redaction in :mod:`synapse_sdk.runtime.secrets` use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OPTIONS_FIELD", "REDACTED", "hide_option_secrets", "is_secret_name"]

REDACTED = "**********"
"""What a secret value looks like in logs, events and errors."""

OPTIONS_FIELD = "storage_options"
"""The field (or mapping key) whose values are redacted by name, not only by type."""

_SECRET_NAMES = frozenset({"key", "secret", "token", "password", "credentials"})
_SECRET_SUFFIXES = ("_key", "_secret", "_token", "_password", "_credentials")


def is_secret_name(name: object) -> bool:
    """Whether a storage option named ``name`` holds a secret (case-insensitive).

    ``key``, ``secret``, ``token``, ``password``, ``credentials`` and any name ending in
    ``_key``, ``_secret``, ``_token``, ``_password`` or ``_credentials``
    (``aws_secret_access_key``, ``aws_session_token``, ``account_key``, ``sas_token``,
    ``client_secret``...).
    """
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def hide_option_secrets(value: Any, *, inside: bool = False) -> Any:
    """``value`` with every secret-named value under a ``storage_options`` key redacted.

    For plain data (mappings, lists, tuples) that is logged as it is, such as a step's
    ``context.log("connecting", {"storage_options": params.storage_options})``. Typed
    secrets (``SecretStr``) need nothing: they print as :data:`REDACTED` already. Returns
    ``value`` itself when nothing in it is hidden, a copy otherwise.
    """
    if isinstance(value, Mapping):
        hidden = {}
        for name, item in value.items():
            if inside and item is not None and is_secret_name(name):
                hidden[name] = REDACTED
            else:
                hidden[name] = hide_option_secrets(item, inside=inside or name == OPTIONS_FIELD)
        changed = any(hidden[name] is not item for name, item in value.items())
        return hidden if changed else value
    if isinstance(value, list | tuple):
        items = [hide_option_secrets(item, inside=inside) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed else value
    return value
