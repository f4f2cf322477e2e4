"""Indexes the member sign-in limits read: codes per number by time, events per key by time."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T01:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member sign-in indexes"

BOTH = [
    "CREATE INDEX member_sign_in_code_mobile_at ON member_sign_in_code (mobile, created_at)",
    "CREATE INDEX member_sign_in_event_key_at ON member_sign_in_event (key, at)",
    "CREATE INDEX member_sign_in_event_at ON member_sign_in_event (at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
