from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

STATUSES = ("queued", "running", "done", "failed")


class Job(Table):
    """One piece of background work (see db/jobs/queue.py). `unique_key` is unique among the
    queued and running jobs (a partial index), so enqueueing the same key again is a no-op
    until that job has finished; `locked_until` is the running job's lease."""

    id = Serial(primary_key=True)
    kind = Varchar(length=60)
    args = Text(default="{}")  # JSON
    unique_key = Varchar(length=200, null=True, default=None)
    status = Varchar(length=8, default="queued")
    run_after = Timestamptz()
    attempts = Integer(default=0)
    max_attempts = Integer(default=5)
    locked_by = Varchar(length=120, default="")
    locked_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
