"""The run pipeline: resolve an action, journal it, place it (here or on Ray), settle it.

``synapse run``, ``run_action`` and the ``synapse_run`` pytest fixture all go through
:mod:`synapse_sdk.run.runner`.
"""
