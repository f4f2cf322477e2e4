"""The indexes limits read: attempts per key by time, and by time alone for the purge.
(A migration of its own: Piccolo runs a migration's raw SQL before its new tables.)"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-04T19:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "limit_attempt indexes"

BOTH = [
    "CREATE INDEX limit_attempt_key_at ON limit_attempt (key, at)",
    "CREATE INDEX limit_attempt_at ON limit_attempt (at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="limits", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
