"""The job table: durable background work for every process (db/jobs/queue.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.engine.finder import engine_finder
from piccolo.table import Table

ID = "2026-12-04T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job table with its claim and unique-key indexes"


class Job(Table, tablename="job"):  # a copy as of this migration, not the live table
    id = Serial(primary_key=True)
    kind = Varchar(length=60)
    args = Text(default="{}")
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


INDEXES = [
    # Enqueueing a key that is already waiting or running does nothing (ON CONFLICT DO NOTHING).
    "CREATE UNIQUE INDEX job_unique_live ON job (unique_key) WHERE status IN ('queued', 'running')",
    # The claim: due queued jobs, and running ones whose lease ran out.
    "CREATE INDEX job_claim ON job (status, run_after)",
    "CREATE INDEX job_kind_status ON job (kind, status)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="jobs", description=DESCRIPTION)

    async def run():
        await Job.create_table()
        engine = engine_finder()
        for sql in INDEXES:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
