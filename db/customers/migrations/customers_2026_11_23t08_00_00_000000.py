"""Search and uniqueness indexes that Piccolo's table DSL cannot express on both engines.

Substring search at a million rows needs an index made for it: FTS5 with the trigram
tokenizer on SQLite, pg_trgm on PostgreSQL. Names shorter than three characters (most
Chinese names are two or three) are matched by prefix on an index of their own.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-23T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "customer search and tag uniqueness indexes"

SQLITE = [
    """CREATE VIRTUAL TABLE customer_search USING fts5(
        search_text, content='customer', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER customer_search_ai AFTER INSERT ON customer BEGIN
        INSERT INTO customer_search(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER customer_search_ad AFTER DELETE ON customer BEGIN
        INSERT INTO customer_search(customer_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER customer_search_au AFTER UPDATE OF search_text ON customer BEGIN
        INSERT INTO customer_search(customer_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO customer_search(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
]

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX customer_search_trgm ON customer USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX customer_name_prefix ON customer (name text_pattern_ops)",
]

BOTH = [
    'CREATE UNIQUE INDEX customer_tag_unique ON customer_tag ("tag", "customer")',
    'CREATE INDEX customer_team_owner ON customer ("team", "owner", "id")',
    'CREATE INDEX interaction_customer_time ON interaction ("customer", "happened_at")',
    'CREATE INDEX interaction_staff_time ON interaction ("staff", "happened_at")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="customers", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        statements = SQLITE if engine.engine_type == "sqlite" else POSTGRES
        for sql in statements + BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
