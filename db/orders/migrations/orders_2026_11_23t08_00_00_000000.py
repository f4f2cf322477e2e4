"""One order per (channel, external_id), and a check that money is never negative.

Piccolo's composite constraints do not migrate on SQLite, so both are plain SQL here.
SQLite cannot add a CHECK to an existing table; the domain code guards it there.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-23T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "order idempotency key and indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE UNIQUE INDEX order_channel_external_id ON "order" ("channel", "external_id")'
        )
        await engine.run_ddl('CREATE INDEX order_customer_placed ON "order" ("customer", "placed_at")')
        if engine.engine_type != "sqlite":
            await engine.run_ddl(
                'ALTER TABLE "order" ADD CONSTRAINT order_total_not_negative CHECK (total_fen >= 0)'
            )

    manager.add_raw(run)
    return manager
