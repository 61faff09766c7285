"""The nightly-pipeline example for synapse-sdk: the ``publish-release`` action.

``nightly.toml``, next to this package, chains ``export-annotations``,
``train-classifier`` and ``publish-release`` into one pipeline.
"""
