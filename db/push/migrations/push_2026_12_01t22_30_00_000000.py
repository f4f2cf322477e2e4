"""The index the sender's claim query walks: due pending messages, and leases that ran out."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T22:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "claim index on push_message (state, not_before)"

BOTH = ["CREATE INDEX push_message_claim ON push_message (state, not_before)"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="push", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
