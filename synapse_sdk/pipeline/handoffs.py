"""Checking a pipeline before anything runs: every action resolved, every param fed.

:func:`check_pipeline` resolves each action and decides where every required param comes
from: the action's initial params, an explicit mapping, or (failing both) the nearest
upstream result field with the same name and a compatible type. It validates the initial
params too, so a typo fails the pipeline before the first action starts rather than after
an hour of training. Every problem is reported at once, naming the action, the field and
what could feed it.

Type compatibility is decided on the annotations: equal types, a subclass (``bool`` is an
``int``), ``int`` or ``bool`` for ``float``, a member of a union, a param typed ``Any``,
and generics with compatible arguments (``list[str]`` feeds ``list[str] | None``). A
result field typed ``Any`` feeds only through an explicit mapping: nothing is known of its
values, so the author of the mapping vouches for them. The values are validated again, with the
action's own params model, when the action is built.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from synapse_sdk.actions.base import BaseAction, params_problems
from synapse_sdk.actions.catalog import resolve_action
from synapse_sdk.errors import PipelineError
from synapse_sdk.pipeline.definition import Handoff, Pipeline, Stage
from synapse_sdk.runtime.settings import Settings

__all__ = ["CheckedStage", "Feed", "check_pipeline", "compatible", "stage_params"]


@dataclass(frozen=True)
class Feed:
    """One param of an action fed by an upstream action's result field."""

    param: str
    source: str
    field: str
    explicit: bool

    def __str__(self) -> str:
        return f"{self.param} <- {self.source}.{self.field}"


@dataclass(frozen=True)
class CheckedStage:
    """An action of a checked pipeline: its class, its name, and where its params come from."""

    stage: Stage
    action_class: type[BaseAction[Any]]
    name: str
    feeds: tuple[Feed, ...]

    @property
    def id(self) -> str:
        return self.stage.id


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> tuple[Any, ...] | None:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return None


def compatible(source: Any, target: Any) -> bool:
    """Whether a value annotated ``source`` can feed a param annotated ``target``."""
    source, target = _strip(source), _strip(target)
    if target is Any or source == target:
        return True
    if source is Any:
        return False  # nothing is known of the value: ask for an explicit mapping
    members = _union_members(source)
    if members is not None:
        return all(compatible(member, target) for member in members)
    members = _union_members(target)
    if members is not None:
        return any(compatible(source, member) for member in members)
    if source in (int, bool) and target is float:
        return True
    source_origin, target_origin = get_origin(source), get_origin(target)
    if source_origin is not None and target_origin is None and isinstance(target, type):
        return isinstance(source_origin, type) and issubclass(source_origin, target)
    if source_origin is not None or target_origin is not None:
        if source_origin != target_origin:
            return False
        source_args, target_args = get_args(source), get_args(target)
        if not target_args:
            return True
        return len(source_args) == len(target_args) and all(
            compatible(s, t) for s, t in zip(source_args, target_args, strict=True)
        )
    if isinstance(source, type) and isinstance(target, type):
        return issubclass(source, target)
    return False


def _type_name(annotation: Any) -> str:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _result_fields(action_class: type[BaseAction[Any]]) -> Mapping[str, Any]:
    model = action_class.result_model
    if model is None:
        return {}
    return {name: info.annotation for name, info in model.model_fields.items()}


class _Checker:
    def __init__(self, pipeline: Pipeline, resolved: list[tuple[type[BaseAction[Any]], str]]):
        self.pipeline = pipeline
        self.resolved = resolved
        self.problems: list[str] = []
        self.index = {stage.id: i for i, stage in enumerate(pipeline.stages)}

    def results_of(self, stage_id: str) -> Mapping[str, Any]:
        return _result_fields(self.resolved[self.index[stage_id]][0])

    def explicit(self, handoff: Handoff) -> Feed | None:
        target_class = self.resolved[self.index[handoff.target]][0]
        params = target_class.params_model.model_fields
        results = self.results_of(handoff.source)
        where = f"mapping '{handoff}'"
        if handoff.param not in params:
            self.problems.append(
                f"{where}: action '{handoff.target}' has no param '{handoff.param}' "
                f"(its params: {', '.join(params) or 'none'})"
            )
            return None
        if handoff.field not in results:
            declared = ", ".join(results) or "nothing: it declares no result_model"
            self.problems.append(
                f"{where}: action '{handoff.source}' hands on no '{handoff.field}' "
                f"(it hands on {declared})"
            )
            return None
        stage = self.pipeline.stage(handoff.target)
        if handoff.param in stage.params:
            self.problems.append(
                f"{where}: '{handoff.target}.{handoff.param}' is also given in its params; "
                "drop one of the two"
            )
            return None
        source, target = results[handoff.field], params[handoff.param].annotation
        if _strip(source) is not Any and not compatible(source, target):
            self.problems.append(
                f"{where}: '{handoff.source}.{handoff.field}' is {_type_name(source)}, but "
                f"'{handoff.target}.{handoff.param}' takes {_type_name(target)}"
            )
            return None
        return Feed(handoff.param, handoff.source, handoff.field, explicit=True)

    def candidates(self, position: int, annotation: Any) -> list[tuple[str, str, Any]]:
        """Upstream result fields that could feed a param of this type, nearest first."""
        found = []
        for stage in reversed(self.pipeline.stages[:position]):
            for name, field_type in self.results_of(stage.id).items():
                if compatible(field_type, annotation):
                    found.append((stage.id, name, field_type))
        return found

    def stage(self, position: int) -> CheckedStage:
        stage = self.pipeline.stages[position]
        action_class, name = self.resolved[position]
        fields = action_class.params_model.model_fields
        mapped = [h for h in self.pipeline.handoffs if h.target == stage.id]
        feeds = {feed.param: feed for feed in map(self.explicit, mapped) if feed is not None}
        reported = {h.param for h in mapped}  # a bad mapping is one problem, not two
        for param, info in fields.items():
            if param in stage.params or param in reported or not info.is_required():
                continue
            same_name = [c for c in self.candidates(position, info.annotation) if c[1] == param]
            if same_name:
                source, field_name, _ = same_name[0]
                feeds[param] = Feed(param, source, field_name, explicit=False)
                continue
            self.problems.append(self.unfed(stage.id, param, info.annotation, position))
        self.validate_initial(stage, action_class)
        return CheckedStage(stage, action_class, name, tuple(feeds.values()))

    def unfed(self, stage_id: str, param: str, annotation: Any, position: int) -> str:
        text = (
            f"action '{stage_id}', param '{param}' ({_type_name(annotation)}): required, "
            "but neither its params nor a mapping feeds it"
        )
        options = self.candidates(position, annotation)
        if options:
            listed = ", ".join(f"{s}.{f} ({_type_name(t)})" for s, f, t in options)
            source, field_name, _ = options[0]
            return (
                f"{text}; it could be fed by {listed}: add a mapping such as "
                f'"{stage_id}.{param}" = "{source}.{field_name}", or give it in the params'
            )
        return (
            f"{text}, and no upstream action hands on a value of that type; give it in the params"
        )

    def validate_initial(self, stage: Stage, action_class: type[BaseAction[Any]]) -> None:
        model = action_class.params_model
        try:
            model.model_validate(dict(stage.params))
        except PydanticValidationError as exc:
            for where, reason in params_problems(exc, model):
                if reason == "required, but missing" and where in model.model_fields:
                    continue  # fed, or reported above with what could feed it
                self.problems.append(f"action '{stage.id}', param '{where}': {reason}")


def check_pipeline(pipeline: Pipeline, settings: Settings) -> list[CheckedStage]:
    """Resolve every action of ``pipeline`` and decide what feeds each of its params.

    Raises:
        ActionNotFoundError, ActionConflictError, ActionLoadError: an action cannot be
            resolved (as for ``synapse run``).
        PipelineError: every problem found, one per line: a param nothing feeds (with the
            upstream fields that could), a mapping to a missing param or result field or
            between incompatible types, an invalid initial param.
    """
    resolved = [resolve_action(stage.action, settings) for stage in pipeline.stages]
    checker = _Checker(pipeline, resolved)
    checked = [checker.stage(position) for position in range(len(pipeline.stages))]
    if checker.problems:
        lines = "\n".join(f"  - {problem}" for problem in checker.problems)
        raise PipelineError(f"pipeline '{pipeline.name}' cannot run:\n{lines}")
    return checked


def stage_params(
    checked: CheckedStage,
    initial: Mapping[str, Any],
    results: Mapping[str, BaseModel | Mapping[str, Any]],
) -> dict[str, Any]:
    """The params of a checked action: its initial params plus the values fed to it.

    ``results`` holds the upstream actions' results by id: models from this run, or the
    journalled (JSON) form when a pipeline is resumed.
    """
    params = dict(initial)
    for feed in checked.feeds:
        if feed.param in params:  # given again (a secret on resume): the given value wins
            continue
        result = results[feed.source]
        if isinstance(result, BaseModel):
            params[feed.param] = getattr(result, feed.field)
        else:
            params[feed.param] = result[feed.field]
    return params
