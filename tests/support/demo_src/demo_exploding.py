"""A hook plugin that cannot be imported."""

raise ImportError("demo_exploding needs a library that is not installed")
