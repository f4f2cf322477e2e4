"""The card's timeline reads a customer's orders newest first in (placed_at, id) order, page
by page from a (time, id) cursor: an index on (customer, placed_at, id) answers a page
without sorting on both engines (SQLite already appends the rowid to every index; PostgreSQL
needs the id in the index). It replaces (customer, placed_at), which it starts with.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T20:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "order (customer, placed_at, id) index for the card timeline"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS order_customer_placed_id ON "order" ("customer", "placed_at", "id")'
        )
        await engine.run_ddl("DROP INDEX IF EXISTS order_customer_placed")

    manager.add_raw(run)
    return manager
