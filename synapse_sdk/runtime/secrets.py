"""Secrets in params: redact them everywhere, find where they were, supply them again.

Three pure helpers share one idea of *where* a secret can be: anywhere inside params, at
any depth of models, mappings, lists, tuples and sets.

* :func:`redact` turns a value (params, a model, an event payload) into JSON-ready data in
  which every ``SecretStr``/``SecretBytes``/``Secret`` value is :data:`REDACTED`, and so
  is every value under a secret-looking name (:func:`is_secret_name`) inside a field or
  key named ``storage_options`` (fsspec options are a plain ``dict``: ``key``, ``secret``,
  ``token``, ``client_kwargs.aws_secret_access_key``...).
* :func:`secret_paths` lists where redacted params hold the placeholder, as
  ``auth.password``, ``tokens[0]`` or ``items[2].key``.
* :func:`deep_merge` lays params supplied again (the secrets) over journalled ones:
  mappings merge key by key, anything else from the supplied side replaces the whole value.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, RootModel
from pydantic_core import to_jsonable_python

from synapse_sdk.runtime.redacted import OPTIONS_FIELD, REDACTED, is_secret_name

__all__ = [
    "OPTIONS_FIELD",
    "REDACTED",
    "deep_merge",
    "is_secret",
    "is_secret_name",
    "redact",
    "secret_paths",
]


def is_secret(value: object) -> bool:
    """Whether ``value`` is a pydantic secret (``SecretStr``, ``SecretBytes``, ``Secret[T]``)."""
    return hasattr(value, "get_secret_value")


def redact(value: Any) -> Any:
    """A JSON-ready copy of ``value`` in which every secret is :data:`REDACTED`.

    Models (fields and extras), dataclasses, mappings, lists, tuples and sets are walked
    here rather than handed to their serializers, because a model may serialize a secret in
    clear on purpose (a ``field_serializer`` or ``json_encoders`` calling
    ``get_secret_value()`` to talk to a service), and the journal and the logs must still
    never hold it. Other values take pydantic's JSON form (ISO dates, paths as text).

    Inside a field or mapping key named ``storage_options`` (at any depth), a value under a
    secret-looking name (:func:`is_secret_name`) is redacted too, whatever its type, at
    any depth of that value (``client_kwargs.aws_secret_access_key``), unless it is
    ``None`` (nothing to hide, nothing to ask for again). Elsewhere names mean nothing: an
    object ``key`` in an event payload is kept; type a secret field ``SecretStr``.

    Raises:
        pydantic_core.PydanticSerializationError: a value has no JSON form.
    """
    return _redact(value, False)


def _redact(value: Any, options: bool) -> Any:
    """:func:`redact`; ``options``: inside ``storage_options``, where names say what is secret."""
    if is_secret(value):
        return REDACTED
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, BaseModel):
        return _redact_model(value, options)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _redact_named(field.name, getattr(value, field.name), options)
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {_redact_key(key): _redact_named(key, item, options) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item, options) for item in value]
    return to_jsonable_python(value)


def _redact_named(name: object, value: Any, options: bool) -> Any:
    """The value of the field or key ``name``, redacted."""
    if options and value is not None and is_secret_name(name):
        return REDACTED
    return _redact(value, options or name == OPTIONS_FIELD)


def _redact_model(model: BaseModel, options: bool) -> Any:
    """The fields (by name, as ``model_dump`` names them) and extras of ``model``, redacted."""
    if isinstance(model, RootModel):
        return _redact(model.root, options)
    dumped = {
        name: _redact_named(name, getattr(model, name), options)
        for name, info in type(model).model_fields.items()
        if not info.exclude
    }
    for name, item in (model.__pydantic_extra__ or {}).items():
        dumped[name] = _redact_named(name, item, options)
    return dumped


def _redact_key(key: object) -> str:
    """A mapping key as JSON text (JSON keys are strings); a secret key is redacted too."""
    jsonable = redact(key)
    return jsonable if isinstance(jsonable, str) else json.dumps(jsonable)


def secret_paths(redacted_params: Mapping[str, Any]) -> list[str]:
    """Every path in ``redacted_params`` whose value is the :data:`REDACTED` placeholder.

    Paths are written as in Python: ``auth.password``, ``tokens[0]``, ``items[2].key``;
    keys are written as they are. Order follows the params (depth first).
    """
    return [path for path, value in _leaves(redacted_params, "") if value == REDACTED]


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every non-container value inside ``value``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def deep_merge(journalled: Mapping[str, Any], supplied: Mapping[str, Any]) -> dict[str, Any]:
    """``journalled`` with ``supplied`` laid over it; neither input is modified.

    Where both sides hold a mapping under a key, the two merge recursively, so supplying
    ``{"auth": {"password": "x"}}`` keeps the journalled ``auth.user``. Anything else from
    ``supplied`` (a list, a scalar, a mapping replacing a non-mapping) replaces the whole
    journalled value: a list of secrets is supplied again in full, since its items have no
    names to merge by.
    """
    merged = dict(journalled)
    for key, value in supplied.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged
