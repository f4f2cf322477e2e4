"""Composite indexes for the board, "mine" filters and the customer timeline, and the five
built-in stages (线索 → 沟通 → 报价 → 成交 / 输单)."""

import datetime as dt

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.querystring import QueryString

ID = "2026-12-01T22:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pipeline indexes and default stages"

BOTH = [
    'CREATE INDEX opportunity_stage_status_updated ON opportunity ("stage", "status", "updated_at")',
    'CREATE INDEX opportunity_owner_status ON opportunity ("owner", "status")',
    'CREATE INDEX opportunity_customer ON opportunity ("customer")',
    'CREATE INDEX opportunity_stage_change_customer_time ON opportunity_stage_change '
    '("customer", "changed_at", "id")',
    'CREATE INDEX opportunity_stage_change_opportunity ON opportunity_stage_change '
    '("opportunity", "changed_at")',
]

# (code, outcome, position); the name stays empty: shown translated.
DEFAULT_STAGES = [
    ("lead", "open", 10),
    ("contacted", "open", 20),
    ("quoted", "open", 30),
    ("won", "won", 40),
    ("lost", "lost", 50),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pipeline", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)
        at = dt.datetime.now(dt.timezone.utc)
        for code, outcome, position in DEFAULT_STAGES:
            await engine.run_querystring(
                QueryString(
                    'INSERT INTO pipeline_stage ("code", "name", "outcome", "position", '
                    '"created_at") VALUES ({}, {}, {}, {}, {})',
                    code, "", outcome, position, at,
                )
            )

    manager.add_raw(run)
    return manager
