"""Indexes the 360 card, filters and reviews need that Piccolo's table DSL cannot express.

The timeline reads a customer's orders and interactions newest first, page by page: a
(customer, time, id) index on each answers a page without sorting. Custom field values are
one per (customer, field) and filtered by (field, value). A dismissed duplicate pair is
recorded once.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T19:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "timeline, custom field, lifecycle and duplicate review indexes"

BOTH = [
    'CREATE UNIQUE INDEX customer_field_value_unique ON customer_field_value ("customer", "field")',
    'CREATE INDEX customer_field_value_lookup ON customer_field_value ("field", "value")',
    'CREATE UNIQUE INDEX duplicate_dismissal_pair ON duplicate_dismissal ("low_id", "high_id")',
    'CREATE INDEX customer_lifecycle_id ON customer ("lifecycle_stage", "id")',
    'DROP INDEX IF EXISTS interaction_customer_time',
    'CREATE INDEX interaction_customer_time ON interaction ("customer", "happened_at", "id")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="customers", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
