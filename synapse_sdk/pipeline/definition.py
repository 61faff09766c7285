"""What a pipeline is: its actions in order, their initial params, and the hand-offs.

A :class:`Pipeline` is plain data, built in Python or read from a TOML file by
:func:`load_pipeline`. Nothing is resolved or checked against the installed actions here;
:mod:`synapse_sdk.pipeline.handoffs` does that before anything runs.

The TOML file::

    name = "nightly"

    [[actions]]
    action = "export-annotations"      # an installed name, DIST:NAME or module:Class
    # id = "export"                    # optional: how mappings and params name it
    params = { dataset = "data", output_uri = "out/export" }

    [[actions]]
    action = "publish"

    [mappings]
    "publish.annotations_uri" = "export-annotations.output_uri"

Relative paths in params stay relative: they are taken from the folder the pipeline runs
in, as for ``synapse run``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse_sdk.actions.base import BaseAction
from synapse_sdk.actions.catalog import class_reference
from synapse_sdk.errors import PipelineError

__all__ = ["Handoff", "Pipeline", "Stage", "load_pipeline"]

_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Stage:
    """One action of a pipeline.

    Attributes:
        id: how mappings and params name this action; unique within the pipeline.
        action: an action class, an installed name, ``DIST:NAME`` or ``module:Class``.
        params: its initial params (the hand-offs add to them).
    """

    id: str
    action: str | type[BaseAction[Any]]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Handoff:
    """``target_stage.param`` is fed ``source_stage.result_field`` of an upstream action."""

    target: str
    param: str
    source: str
    field: str

    def __str__(self) -> str:
        return f"{self.target}.{self.param} = {self.source}.{self.field}"


def _stage_id(action: str | type[BaseAction[Any]]) -> str:
    """The id an action gets when none is given: its name as written, or its class's name."""
    if isinstance(action, str):
        return action.rsplit(":", 1)[-1] if ":" in action else action
    return action.default_name()


def _split(reference: str, what: str) -> tuple[str, str]:
    stage, dot, name = reference.partition(".")
    if not dot or not stage or not name or "." in name:
        raise PipelineError(
            f"the mapping {what} '{reference}' is not ACTION.FIELD (e.g. 'train.data_uri'); "
            "fields are top-level names of the params or of the result model"
        )
    return stage, name


class Pipeline:
    """Actions that run one after another, each fed by the results of those before it.

    Args:
        actions: the actions in order: classes, installed names (``DIST:NAME``,
            ``module:Class``), or :class:`Stage` objects to give an action its own id.
        params: the initial params of each action, by id.
        mappings: explicit hand-offs, ``{"ACTION.param": "UPSTREAM.result_field"}``. A
            required param that neither the initial params nor a mapping feeds is fed by
            the nearest upstream result field with the same name and a compatible type.
        name: shown in ``synapse runs list`` and journalled with the run.

    Raises:
        PipelineError: an empty pipeline, duplicate ids, params or mappings naming an
            action that is not in it, or a mapping that feeds from a later action.
    """

    def __init__(
        self,
        actions: Sequence[str | type[BaseAction[Any]] | Stage],
        *,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        mappings: Mapping[str, str] | None = None,
        name: str = "pipeline",
    ) -> None:
        given = dict(params or {})
        stages: list[Stage] = []
        for entry in actions:
            if isinstance(entry, Stage):
                merged = {**entry.params, **given.get(entry.id, {})}
                stages.append(Stage(entry.id, entry.action, merged))
            else:
                stage_id = _stage_id(entry)
                stages.append(Stage(stage_id, entry, dict(given.get(stage_id, {}))))
        if not stages:
            raise PipelineError(f"pipeline '{name}' has no actions; list at least one")
        self.name = name
        self.stages = stages
        self._check_ids()
        position = {stage.id: index for index, stage in enumerate(stages)}
        unknown = sorted(set(given) - set(position))
        if unknown:
            raise PipelineError(
                f"params are given for {', '.join(repr(n) for n in unknown)}, which "
                f"pipeline '{name}' does not have; its actions are: {', '.join(position)}"
            )
        self.handoffs = [
            self._handoff(key, value, position) for key, value in (mappings or {}).items()
        ]

    def _check_ids(self) -> None:
        seen: set[str] = set()
        for stage in self.stages:
            if not _ID.match(stage.id):
                raise PipelineError(
                    f"'{stage.id}' cannot name an action of a pipeline: use letters, digits, "
                    "'_' and '-' (give it an id of its own)"
                )
            if stage.id in seen:
                raise PipelineError(
                    f"action '{stage.id}' appears twice in pipeline '{self.name}'; give each "
                    'its own id (Stage(id=..., action=...), or id = "..." in the file)'
                )
            seen.add(stage.id)

    def _handoff(self, key: str, value: object, position: Mapping[str, int]) -> Handoff:
        if not isinstance(value, str):
            raise PipelineError(f"the mapping for '{key}' must be a string 'ACTION.FIELD'")
        target, param = _split(key, "target")
        source, result_field = _split(value, "source")
        for stage in (target, source):
            if stage not in position:
                raise PipelineError(
                    f"the mapping '{key} = {value}' names '{stage}', which pipeline "
                    f"'{self.name}' does not have; its actions are: {', '.join(position)}"
                )
        if position[source] >= position[target]:
            raise PipelineError(
                f"the mapping '{key} = {value}' feeds '{target}' from '{source}', which does "
                "not run before it; a param can only be fed by an earlier action's result"
            )
        return Handoff(target, param, source, result_field)

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def to_dict(self) -> dict[str, Any]:
        """The definition as JSON-ready data (params unredacted: redact before journalling)."""
        return {
            "name": self.name,
            "actions": [
                {
                    "id": stage.id,
                    "action": stage.action
                    if isinstance(stage.action, str)
                    else class_reference(stage.action) or stage.action.default_name(),
                    "params": dict(stage.params),
                }
                for stage in self.stages
            ],
            "mappings": {f"{h.target}.{h.param}": f"{h.source}.{h.field}" for h in self.handoffs},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "the pipeline") -> Pipeline:
        """A pipeline from the data of a TOML file (or of :meth:`to_dict`).

        Raises:
            PipelineError: the data does not describe a pipeline; the message says where.
        """
        known = {"name", "actions", "mappings"}
        extra = sorted(set(data) - known)
        if extra:
            raise PipelineError(
                f"{source}: unknown key(s) {', '.join(extra)}; a pipeline has name, "
                "[[actions]] and [mappings]"
            )
        name = data.get("name", "pipeline")
        entries = data.get("actions")
        mappings = data.get("mappings", {})
        if not isinstance(name, str):
            raise PipelineError(f"{source}: name must be a string")
        if not isinstance(entries, list) or not entries:
            raise PipelineError(
                f'{source}: no actions; list them as [[actions]] tables with action = "NAME"'
            )
        if not isinstance(mappings, dict):
            raise PipelineError(f'{source}: [mappings] must be a table of "A.param" = "B.field"')
        stages = [_stage_from(entry, index, source) for index, entry in enumerate(entries, 1)]
        return cls(stages, mappings=mappings, name=name)


def _stage_from(entry: object, index: int, source: str) -> Stage:
    where = f"{source}: action #{index}"
    if not isinstance(entry, dict):
        raise PipelineError(f'{where} must be a table with action = "NAME"')
    extra = sorted(set(entry) - {"id", "action", "params"})
    if extra:
        raise PipelineError(f"{where}: unknown key(s) {', '.join(extra)}; use id, action, params")
    action = entry.get("action")
    if not isinstance(action, str) or not action:
        raise PipelineError(f'{where} has no action = "NAME"')
    stage_id = entry.get("id", _stage_id(action))
    params = entry.get("params", {})
    if not isinstance(stage_id, str):
        raise PipelineError(f"{where}: id must be a string")
    if not isinstance(params, dict):
        raise PipelineError(f"{where}: params must be a table")
    return Stage(stage_id, action, params)


def load_pipeline(path: str | Path) -> Pipeline:
    """Read a pipeline from a TOML file.

    Raises:
        PipelineError: the file is missing, is not TOML, or does not describe a pipeline.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise PipelineError(f"pipeline file {path} does not exist") from None
    except IsADirectoryError:
        raise PipelineError(f"{path} is a folder; give the pipeline's .toml file") from None
    except UnicodeDecodeError:
        raise PipelineError(f"pipeline file {path} is not UTF-8 text") from None
    except ValueError as exc:  # TOMLDecodeError, or a number too long to read
        raise PipelineError(f"pipeline file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise PipelineError(f"pipeline file {path} is nested too deeply to read") from None
    except OSError as exc:
        raise PipelineError(f"cannot read pipeline file {path}: {exc.strerror}") from None
    return Pipeline.from_dict(data, source=str(path))
