"""The dashboard's and the reports' order figures (db/figures): the paid orders of a range of
days read from an index alone (placed_at, customer, total_fen, channel) instead of every row;
partial, so refunded and cancelled orders are not in it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-07T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "paid orders by time, covering the figures"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX order_paid_placed ON "order" ("placed_at", "customer", "total_fen", '
            '"channel") WHERE status = \'paid\''
        )

    manager.add_raw(run)
    return manager
