"""The dashboard's and the reports' points figures (db/figures): the ledger entries of a range
of days read from an index alone (created_at, member, kind, delta)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-07T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "points entries by time, covering the figures"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            "CREATE INDEX points_entry_created ON points_entry (created_at, member, kind, delta)")

    manager.add_raw(run)
    return manager
