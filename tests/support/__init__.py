"""Helpers shared by the plugin and CLI tests (tests/ is on the pythonpath)."""
