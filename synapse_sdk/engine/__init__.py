"""The step engine: steps, their registry, the orchestrator and ready-made utility steps.

Below it lie only the errors, the fan-out, the runtime context and storage. Each name has
its own module (``engine.base``, ``engine.orchestrator``...); plugin authors import them
from the public face, :mod:`synapse_sdk.plugins.steps`.
"""
