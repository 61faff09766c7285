"""RuntimeContext on its own: logger, env, job id, progress and metrics outside a run."""

from structlog.testing import capture_logs

from synapse_sdk.plugins import RuntimeContext
from synapse_sdk.runtime import CallbackSink, Event, ProgressEvent

# No arguments needed: no sinks, env is a copy of os.environ, no job id.
plain = RuntimeContext()
assert plain.sinks == []
assert plain.job_id is None
assert isinstance(plain.env, dict)

events: list[Event] = []
runtime = RuntimeContext(
    job_id="job-42",
    env={"DATA_DIR": "/data"},  # copied: later changes to the mapping passed in don't leak
    sinks=[CallbackSink(events.append)],
)

with capture_logs() as logs:
    runtime.log("dataset_opened", {"rows": 1200}, step="load")
    runtime.log("slow_disk", {"mb_per_s": 3}, level="warning")
print(logs)
# The structlog logger is bound with the job id; `step` is bound per call.
assert logs[0] == {
    "job_id": "job-42",
    "step": "load",
    "rows": 1200,
    "event": "dataset_opened",
    "log_level": "info",
}
assert logs[1]["log_level"] == "warning"
assert "step" not in logs[1]

# Outside an orchestrated run, set_progress reports round(100 * current / total), clamped
# to 0-100, and sinks see only changes of that figure (or of the step).
for done in (0, 1, 2, 3, 50, 40, 200, 250):
    runtime.set_progress(done, 200, step="scan")
runtime.set_progress(1, 0)  # total <= 0: ignored
runtime.set_metrics({"epoch": 3, "accuracy": 0.94}, step="train")

for event in events:
    print(event.to_dict())
progress = [(e.percent, e.step) for e in events if isinstance(e, ProgressEvent)]
# Figures 0, 0, 1, 2, 25, 20, 100, 100 (round() halves to even; 250/200 is clamped):
# only changes get through, and outside a run a figure may go down.
assert progress == [
    (0, "scan"),
    (1, "scan"),
    (2, "scan"),
    (25, "scan"),
    (20, "scan"),
    (100, "scan"),
]
assert events[-1].to_dict() == {
    "event": "metrics",
    "step": "train",
    "values": {"epoch": 3, "accuracy": 0.94},
}
runtime.close()  # closes every sink
