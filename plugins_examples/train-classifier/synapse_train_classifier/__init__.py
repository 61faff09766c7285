"""The train-classifier example plugin for synapse-sdk."""
