"""Rule tags' "bought on channel" condition: the customers with a paid order in some
channels, read from an index alone (channel, status, customer) instead of every order row.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "order index for rule tags by channel"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX order_channel_status_customer ON "order" ("channel", "status", "customer")'
        )

    manager.add_raw(run)
    return manager
