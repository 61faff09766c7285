"""Running a whole action on a Ray cluster, with its events streamed back to the caller.

Imports Ray only when used (the ``ray`` extra); the fan-out of ``context.map`` as Ray
tasks lives lower, in :mod:`synapse_sdk.fanout.ray_tasks`.
"""
