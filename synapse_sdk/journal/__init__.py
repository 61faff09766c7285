"""The run journal: every run and step in SQLite, and recovery from what it says.

:mod:`~synapse_sdk.journal.store` keeps the records, :mod:`~synapse_sdk.journal.recorder`
turns a run's step transitions into records, and :mod:`~synapse_sdk.journal.recovery`
rolls back a run that a crash left ``needs_rollback`` (``synapse runs rollback``).
"""
