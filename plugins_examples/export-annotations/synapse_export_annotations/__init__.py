"""The export-annotations example plugin for synapse-sdk."""
