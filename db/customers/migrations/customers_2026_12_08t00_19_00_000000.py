"""The consent tables' indexes (issue 14, design 1.1): the log by (customer, channel, at), and
the one current answer per customer and channel that the state's upsert relies on."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-08T00:19:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "consent indexes"

BOTH = [
    "CREATE INDEX customer_consent_customer_channel_at ON customer_consent (customer, channel, at)",
    "CREATE UNIQUE INDEX customer_consent_state_customer_channel "
    "ON customer_consent_state (customer, channel)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="customers", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
