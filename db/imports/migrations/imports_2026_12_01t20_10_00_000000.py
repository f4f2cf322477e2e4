"""import_job.heartbeat_at: a running import stamps it after every batch, so on start-up a
process can tell a job whose process died (stale heartbeat) from one still running elsewhere."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T20:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "import job heartbeat"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="imports", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        await engine.run_ddl("ALTER TABLE import_job ADD COLUMN heartbeat_at TIMESTAMPTZ NULL")

    manager.add_raw(run)
    return manager
