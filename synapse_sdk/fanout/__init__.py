"""The fan-out: where ``context.map`` runs its items.

Two executors exist. ``local`` (the default) runs the action in this process and fans
``context.map`` out over a thread pool. ``ray`` runs the action as a Ray task on a
cluster and fans ``context.map`` out as Ray tasks; its modules import Ray, so they are
imported only when a run asks for Ray (the ``ray`` extra:
``pip install -e '/path/to/synapse-sdk[ray]'``).

Modules:
    base: the :class:`Executor` protocol and :func:`run_chunk`, what runs on a worker.
    threads: :class:`ThreadExecutor`, the local fan-out.
    mapper: :func:`fan_out`, the algorithm behind ``context.map``.
    ray_tasks: :class:`RayTaskExecutor`, the fan-out as Ray tasks.
    ray_cluster: importing Ray and joining a cluster, once per process.

A whole action run on Ray (:func:`synapse_sdk.ray.launch.run_on_ray`) lives above, in
:mod:`synapse_sdk.ray`.
"""

from __future__ import annotations

EXECUTORS = ("local", "ray")
"""The names ``run_action(executor=...)`` and ``synapse run --executor`` accept."""

RAY_INSTALL_HINT = (
    "Install it with: pip install 'ray>=2.40' (or reinstall this SDK from its clone with its "
    "ray extra: pip install -e '/path/to/synapse-sdk[ray]')"
)

__all__ = ["EXECUTORS", "RAY_INSTALL_HINT"]
