"""An index on the name as the duplicate review compares it (lower case, no spaces), so the
review reads customers one name block at a time without scanning or sorting the table."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T20:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "name key index for the duplicate review"

# Must stay the same expression as db/customers/duplicates.NAME_KEY (the planner matches it).
BOTH = [
    "CREATE INDEX customer_name_key ON customer "
    "(lower(replace(replace(\"name\", ' ', ''), '\u3000', '')), \"id\")",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="customers", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
