"""BaseAction: a pydantic-parameterised unit of work that runs as steps (or in one go)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from typing_extensions import TypeVar

from synapse_sdk.actions.plan import Plan, build_plan
from synapse_sdk.engine.context import BaseStepContext
from synapse_sdk.engine.orchestrator import Orchestrator
from synapse_sdk.engine.registry import StepRegistry
from synapse_sdk.errors import InvalidParamsError, InvalidResultError, StepExecutionError
from synapse_sdk.host.manager import PluginHost, plugin_host
from synapse_sdk.runtime.context import RuntimeContext
from synapse_sdk.runtime.secrets import redact

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = ["ActionContext", "ActionParams", "BaseAction", "P", "storage_options_field"]


class ActionParams(BaseModel):
    """Base of every params model: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def storage_options_field(where: str) -> Any:
    """The ``storage_options`` field of a params model that writes to an fsspec URL.

    ``where`` names that URL's field in the description (``"the target"``, ``"model_uri"``).
    """
    return Field(
        default_factory=dict,
        description=(
            f"fsspec storage options for {where} (endpoint_url, profile, client_kwargs...). "
            "Values under secret-looking names (key, secret, token, password, credentials, "
            "*_key, *_secret, *_token) are redacted like SecretStr fields."
        ),
    )


P = TypeVar("P", bound=BaseModel, default=Any)
"""The params model of an action and of its step context.

It defaults to ``Any`` (PEP 696), so that a bare ``UploadContext`` (as in
``StepRegistry[UploadContext]``) means ``UploadContext[Any]`` and passes ``mypy --strict``
with its params unchecked; ``UploadContext[MyParams]`` checks them.
"""


@dataclass
class ActionContext(BaseStepContext, Generic[P]):
    """Step context of an action: the runtime context plus the action's validated params.

    Generic in the params model, so that steps typed with it have their params
    type-checked: in a ``BaseStep[UploadContext[MyParams]]``, ``context.params.source``
    is a ``str`` and ``context.params.sourc`` is a mypy error. The bare class
    (``ActionContext``, ``UploadContext``) is ``...[Any]``: params unchecked.

    Attributes:
        params: the action's validated params, as :meth:`BaseAction.create_context`
            passes them. A context built by hand without them (as a test of steps that
            never read params may do) holds None: the field is typed ``P`` nonetheless,
            so that steps read ``context.params.source`` without a None check.
    """

    params: P = None  # type: ignore[assignment]  # None only in contexts built without params
    result_values: dict[str, Any] = field(default_factory=dict)
    """What the steps have handed on so far with :meth:`set_result`."""
    result: BaseModel | None = None
    """The validated result, once a run of an action with a ``result_model`` succeeded."""

    def set_result(self, **values: Any) -> None:
        """Hand values on as the action's result (fields of its ``result_model``).

        Call it from any step, as often as needed; later values replace earlier ones under
        the same name. When the last step has finished, the values are validated against
        the action's ``result_model``: a missing or invalid field fails the run, which is
        then rolled back like any failure, because a pipeline would hand on a broken result.
        """
        self.result_values.update(values)


def _snake_case(name: str) -> str:
    name = re.sub(r"Action$", "", name) or name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("__", "_")


def _plain_reason(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(model.model_fields)) or "none"
        return f"unknown field (allowed fields: {allowed})"
    return str(error["msg"])


def params_problems(exc: PydanticValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """``(field, reason)`` pairs for a pydantic error, without echoing any input value."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(params)"
        problems.append((where, _plain_reason(error, model)))
    return problems


class BaseAction(Generic[P]):
    """Base class of every action.

    Subclass one of the kind-specific bases with your params model as the generic argument::

        class MyUpload(BaseUploadAction[MyParams]):
            def setup_steps(self, registry: StepRegistry[UploadContext[MyParams]]) -> None:
                registry.register(UploadFilesStep())

    The generic argument becomes :attr:`params_model`. Override :meth:`setup_steps` for a
    step-based action, or :meth:`execute` for a simple one; :meth:`run` picks the mode.

    Attributes:
        kind: ``'train'``, ``'export'``, ``'upload'`` or ``'other'``.
        params_model: the pydantic model that validates params.
        context_class: the step context class :meth:`create_context` builds, given as
            the bare class (a class variable cannot name ``P``): it is built with
            :attr:`params`, so the context is an ``ActionContext[P]``.
        result_model: the pydantic model of what the action hands on (None: nothing).
            Steps fill it with ``context.set_result(...)``; :meth:`run` returns it under
            ``'result'``, and a pipeline feeds its fields to the next actions' params.
        params: the validated params.
        ctx: the runtime context shared by every step.
        name: the action's name (its entry-point name when resolved by name).
    """

    kind: ClassVar[str] = "other"
    params_model: ClassVar[type[BaseModel]] = ActionParams
    result_model: ClassVar[type[BaseModel] | None] = None
    context_class: ClassVar[type[ActionContext[Any]]] = ActionContext
    action_name: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params_model" in cls.__dict__:
            return
        for base in getattr(cls, "__orig_bases__", ()):
            for arg in get_args(base):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    cls.params_model = arg
                    return

    def __init__(
        self,
        params: P | Mapping[str, Any] | None = None,
        ctx: RuntimeContext | None = None,
        *,
        plugins: PluginHost | None = None,
        name: str | None = None,
    ) -> None:
        self.name = name or self.default_name()
        self.params: P = self.validate_params(params, action=self.name)
        self.ctx = ctx if ctx is not None else RuntimeContext()
        self.plugins = plugins

    @classmethod
    def for_planning(
        cls,
        params: Mapping[str, Any] | None = None,
        ctx: RuntimeContext | None = None,
        *,
        plugins: PluginHost | None = None,
        name: str | None = None,
    ) -> BaseAction[P]:
        """An instance whose params are *not* validated, for showing a plan without params.

        Fields missing from ``params`` take their defaults (or are absent); never run it.
        """
        action = cls.__new__(cls)
        action.name = name or cls.default_name()
        action.params = cls.params_model.model_construct(**dict(params or {}))  # type: ignore[assignment]
        action.ctx = ctx if ctx is not None else RuntimeContext()
        action.plugins = plugins
        return action

    @classmethod
    def default_name(cls) -> str:
        """``action_name`` if set, else the class name in snake case without ``Action``."""
        return cls.action_name or _snake_case(cls.__name__)

    @classmethod
    def validate_params(cls, params: object, *, action: str | None = None) -> P:
        """Validate ``params`` (a mapping or a model instance) against :attr:`params_model`.

        Raises:
            InvalidParamsError: listing every bad field and why.
        """
        model = cls.params_model
        if params is None:
            params = {}
        if isinstance(params, model):
            params = params.model_dump()
        try:
            validated: P = model.model_validate(params)  # type: ignore[assignment]
        except PydanticValidationError as exc:
            raise InvalidParamsError(
                action or cls.default_name(), params_problems(exc, model)
            ) from None  # pydantic's own error repeats the input, secrets included
        return validated

    def redacted_params(self) -> dict[str, Any]:
        """The params as JSON-ready data, with every secret replaced by ``**********``.

        Secrets are found at any depth (lists, mappings, nested models), whatever the
        params model's serializers would write: this is what the journal and logs keep.
        """
        redacted: dict[str, Any] = redact(self.params)
        return redacted

    # -- the parts a plugin author overrides ---------------------------------------------

    def setup_steps(self, registry: StepRegistry[Any]) -> None:
        """Register this action's steps. Register none to run :meth:`execute` instead."""

    def create_context(self) -> ActionContext[P]:
        """The step context shared by the steps of one run, holding :attr:`params`."""
        return self.context_class(runtime_ctx=self.ctx, params=self.params)

    def execute(self) -> Any:
        """Simple mode: do the whole job in one call (used when no steps are registered)."""
        raise NotImplementedError(
            f"action '{self.name}' has no steps and no execute(); "
            "override setup_steps() to register steps, or execute() to do the work directly"
        )

    # -- running -------------------------------------------------------------------------

    def _host(self) -> PluginHost:
        if self.plugins is None:
            self.plugins = plugin_host(self.ctx.settings)
        return self.plugins

    def plan(self) -> Plan:
        """The resolved steps (own steps, plugin steps, plugin wrappers) without running them."""
        return build_plan(self, self._host())

    def run(self) -> Any:
        """Run the action: its steps through the orchestrator, or :meth:`execute`.

        Plugins' ``synapse_setup_steps`` and ``synapse_wrap_step`` shape the steps first;
        the run hooks observe it. Returns the orchestrator's result
        (``{'success': True, 'steps_executed': N, 'steps_total': M}``, plus
        ``'result'``: the validated :attr:`result_model` instance when the action declares
        one) or what ``execute()`` returned.
        """
        host = self._host()
        runtime = self.ctx
        context: ActionContext[P] | None = None
        try:
            plan = build_plan(self, host)
            runtime.log(
                "run_started",
                {"action": self.name, "params": self.redacted_params(), "steps": plan.names},
            )
            if not plan.steps:
                return self.execute()
            context = self.create_context()
            host.notify("synapse_before_run", runtime, action=self, context=context)
            try:
                outcome = Orchestrator(
                    plan.registry, context, complete=self._result_check(context)
                ).execute()
            except (StepExecutionError, KeyboardInterrupt, SystemExit) as exc:
                host.notify(
                    "synapse_after_rollback", runtime, action=self, context=context, error=exc
                )
                raise
        except BaseException as exc:
            host.notify("synapse_on_run_error", runtime, action=self, context=context, error=exc)
            raise
        result: dict[str, Any] = dict(outcome)
        if context.result is not None:
            result["result"] = context.result
        runtime.log("run_finished", {"action": self.name, **outcome})
        host.notify("synapse_after_run", runtime, action=self, context=context, result=result)
        return result

    def _result_check(self, context: ActionContext[P]) -> Callable[[], None] | None:
        """The check that ends a run of an action with a result model (None: no model)."""
        model = self.result_model
        if model is None:
            return None

        def check() -> None:
            try:
                context.result = model.model_validate(context.result_values)
            except PydanticValidationError as exc:
                raise InvalidResultError(self.name, params_problems(exc, model)) from None

        return check
