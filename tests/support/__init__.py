"""Helpers shared by the plugin and CLI tests (importable because pytest's pythonpath has tests/)."""
