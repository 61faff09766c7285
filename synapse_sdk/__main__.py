"""``python -m synapse_sdk`` is the ``synapse`` command."""

from synapse_sdk.cli import main

main()
