"""figure_entry: the figure store (db/figures/store.py), unique on its key (the upsert's
conflict target) and indexed by time for the nightly prune."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.engine.finder import engine_finder
from piccolo.table import Table

ID = "2026-12-07T23:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "figure_entry"


# A copy as of this migration, not the live table.
class FigureEntry(Table, tablename="figure_entry"):
    id = Serial(primary_key=True)
    key = Varchar(length=400, unique=True)
    value = Text(default="{}")
    computed_at = Timestamptz()
    took_ms = Integer(default=0)


INDEXES = ["CREATE INDEX figure_entry_computed ON figure_entry (computed_at)"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="figures", description=DESCRIPTION)

    async def run():
        await FigureEntry.create_table()
        engine = engine_finder()
        for sql in INDEXES:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
