"""``synapse actions schema``'s table: an action's params read from their JSON Schema.

Types are given in JSON terms (string, integer, list of string, object), because params
are written as JSON. A field of a nested model is listed as ``parent.field`` below its
parent. A secret (``SecretStr``, ``SecretBytes``: JSON Schema's ``"format": "password"``)
is marked, since the journal and the logs never keep its value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ParamRow", "param_rows"]

Schema = dict[str, Any]


@dataclass(frozen=True)
class ParamRow:
    """One line of the table."""

    field: str
    type: str
    required: bool
    default: str
    description: str


def param_rows(schema: Schema) -> list[ParamRow]:
    """A row per field of ``schema`` (an object schema), nested models' fields included."""
    return list(_rows(schema, schema.get("$defs", {}), prefix="", seen=frozenset()))


def _rows(schema: Schema, defs: Schema, *, prefix: str, seen: frozenset[str]) -> Iterator[ParamRow]:
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        field = f"{prefix}{name}"
        yield ParamRow(
            field=field,
            type=_type_of(prop, defs),
            required=name in required,
            default=json.dumps(prop["default"]) if "default" in prop else "-",
            description=str(prop.get("description", "")),
        )
        ref = _model_ref(prop)
        if ref is not None and ref not in seen:  # a model that contains itself is listed once
            yield from _rows(defs.get(ref, {}), defs, prefix=f"{field}.", seen=seen | {ref})


def _model_ref(prop: Schema) -> str | None:
    """The ``$defs`` name of a nested model (also when optional), else None."""
    for option in [prop, *prop.get("anyOf", [])]:
        ref = option.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return str(ref.removeprefix("#/$defs/"))
    return None


def _type_of(prop: Schema, defs: Schema) -> str:
    """A short JSON type: ``string``, ``list of integer``, ``string or null``, ``secret``."""
    if "anyOf" in prop or "oneOf" in prop:
        options = prop.get("anyOf") or prop.get("oneOf") or []
        return " or ".join(dict.fromkeys(_type_of(option, defs) for option in options))
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        return f"object ({name})" if defs.get(name, {}).get("type") == "object" else name
    if "enum" in prop:
        return "one of " + ", ".join(json.dumps(value) for value in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if prop.get("format") == "password":
        return "string (secret)"
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(prop.get('items', {}), defs)}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return f"{kind} ({prop['format']})" if "format" in prop else str(kind)
