"""``python -m synapse_sdk`` is the ``synapse`` command."""

from synapse_sdk.console import main

main()
