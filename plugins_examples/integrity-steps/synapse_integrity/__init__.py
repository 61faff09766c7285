"""The integrity-steps example hook plugin for synapse-sdk."""
