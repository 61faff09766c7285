"""Every hook a synapse-sdk plugin can implement.

Plugins implement hooks with the :data:`hookimpl` decorator (importable as
``from synapse_sdk.plugins import hookimpl``) on module-level functions or methods, and
are published through the ``synapse_sdk.plugins`` entry-point group. Hooks are called
with keyword arguments; an implementation may accept fewer arguments than the spec lists,
so new arguments can be added to a spec without breaking existing plugins.

Each hook is one call through pluggy's loop. Call order: pluggy calls the most recently
registered plugin first; use ``@hookimpl(tryfirst=True)`` or ``@hookimpl(trylast=True)``
to move an implementation. Hook wrappers (``@hookimpl(wrapper=True)``, or the older
``hookwrapper=True``) run around the other implementations of a hook.

The lifecycle of ``run()``::

    action.setup_steps(registry)
    synapse_setup_steps(action, registry)        # each plugin may change the registry
    synapse_wrap_step(action, step)              # for every step of the final registry
    synapse_before_run(action, context)
    ... steps run ...
    synapse_after_run(action, context, result)   # on success
    synapse_after_rollback(action, context, error)   # a step failed, rollback finished
    synapse_on_run_error(action, context, error) # on any failure, after the rollback
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pluggy

if TYPE_CHECKING:
    from synapse_sdk.engine.base import BaseStep
    from synapse_sdk.engine.context import BaseStepContext
    from synapse_sdk.engine.registry import StepRegistry
    from synapse_sdk.runtime.context import RuntimeContext

__all__ = ["PROJECT_NAME", "ActionView", "hookimpl", "hookspec"]


class ActionView(Protocol):
    """What a hook receives as ``action``: a :class:`~synapse_sdk.plugins.BaseAction`.

    Hooks may rely on these attributes; the host sits below the actions, so it names the
    action by what it offers rather than by its class.
    """

    kind: ClassVar[str]
    name: str
    params: Any
    ctx: RuntimeContext


PROJECT_NAME = "synapse_sdk"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def synapse_setup_steps(action: ActionView, registry: StepRegistry[Any]) -> None:
    """Change the steps of ``action`` before it runs (or is planned).

    Called once per run (and once per ``synapse plan``), after the action's own
    ``setup_steps`` and before any step is wrapped. Use the registry's ``register``,
    ``insert_before(name, step)``, ``insert_after(name, step)`` and ``unregister(name)``;
    check ``name in registry`` first when the anchor step may be absent. Look at
    ``action.kind`` (``'train'``, ``'export'``, ``'upload'``...) or ``isinstance`` to decide
    whether the action is one you care about.

    Args:
        action: the action instance about to run, with validated ``params``.
        registry: the action's step registry, changed in place.

    Returns:
        Nothing; the return value is ignored.
    """


@hookspec
def synapse_wrap_step(action: ActionView, step: BaseStep[Any]) -> BaseStep[Any] | None:
    """Return a step that wraps ``step``, or None to leave it alone.

    Called for every step of the final registry (after every ``synapse_setup_steps``).
    A wrapper must subclass :class:`~synapse_sdk.plugins.steps.StepWrapper` (or be a
    chain of them) around the step it was given, so that ``rollback`` and ``can_skip``
    always reach the inner step; anything else is rejected with an error naming the plugin.

    Composition: implementations are called in hook order and each one receives the step
    as the previous ones wrapped it, so the first plugin called wraps innermost and the
    last one outermost. The step keeps the name its action registered, whoever wraps it
    (so ``step.name == "upload"`` always finds the upload step); ``synapse plan`` shows
    every wrapper by plugin. Wrap steps in a plain implementation: a hook wrapper
    (``wrapper=True`` or ``hookwrapper=True``) around this hook runs around the others
    and sees their results, but what it returns does not replace the step.

    Args:
        action: the action instance about to run.
        step: the step to wrap (possibly already wrapped by another plugin, under its own
            name).

    Returns:
        The wrapping step, or None.
    """


@hookspec
def synapse_before_run(action: ActionView, context: BaseStepContext) -> None:
    """Observe the start of a step-based run, after the plan is final and before step one.

    Errors raised here are logged and ignored: observers cannot break a run.
    """


@hookspec
def synapse_after_run(action: ActionView, context: BaseStepContext, result: dict[str, Any]) -> None:
    """Observe a successful run; ``result`` is what ``run()`` returns.

    Errors raised here are logged and ignored.
    """


@hookspec
def synapse_after_rollback(
    action: ActionView, context: BaseStepContext, error: BaseException
) -> None:
    """Observe a run whose steps were rolled back after ``error``.

    Called after the rollback of every executed step, whether a step failed
    (``error`` is a ``StepExecutionError``) or the run was interrupted
    (``KeyboardInterrupt``/``SystemExit``). ``context.errors`` lists rollback failures.
    Errors raised here are logged and ignored.
    """


@hookspec
def synapse_on_run_error(
    action: ActionView, context: BaseStepContext | None, error: BaseException
) -> None:
    """Observe a failed run (any exception out of ``run()``), after any rollback.

    ``context`` is None when the run failed before its step context existed (for example
    in a plugin's ``synapse_setup_steps``). Errors raised here are logged and ignored.
    """
