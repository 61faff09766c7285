"""Pipelines: actions chained with checked hand-offs, one journalled run, undone as one.

See docs/pipelines.md. :class:`Pipeline` defines one (or :func:`load_pipeline` reads a
TOML file); :func:`run_pipeline` runs it, :func:`resume_pipeline` continues one that
stopped, :func:`rollback_pipeline` undoes one that a crash left unfinished.
"""

from synapse_sdk.pipeline.definition import Handoff, Pipeline, Stage, load_pipeline
from synapse_sdk.pipeline.handoffs import check_pipeline
from synapse_sdk.pipeline.runner import resume_pipeline, rollback_pipeline, run_pipeline

__all__ = [
    "Handoff",
    "Pipeline",
    "Stage",
    "check_pipeline",
    "load_pipeline",
    "resume_pipeline",
    "rollback_pipeline",
    "run_pipeline",
]
