"""The upload-files example plugin for synapse-sdk."""
