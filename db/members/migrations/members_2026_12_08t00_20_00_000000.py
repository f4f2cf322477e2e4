"""Members' consent moves to the customers' consent log (issue 14, design 1.1): every
member_consent row is copied into customer_consent (source and actor as they were, detail
"member_consent:ID"), and customer_consent_state gets each customer's latest answer per
channel (the latest `at`, then the highest id). member_consent is no longer written after
this; it stays until db/members/merging.MEMBER_TABLES stops listing it.

Here, not in the customers app: its migrations run before the members app creates
member_consent on a new database."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-08T00:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "copy member consent into the customers' consent log"

BOTH = [
    "INSERT INTO customer_consent (customer, channel, granted, source, detail, actor, at) "
    "SELECT m.customer, mc.channel, mc.granted, mc.source, "
    "'member_consent:' || CAST(mc.id AS VARCHAR(20)), mc.actor, mc.at "
    "FROM member_consent mc JOIN member m ON m.id = mc.member ORDER BY mc.at, mc.id",
    "INSERT INTO customer_consent_state (customer, channel, granted, source, at) "
    "SELECT l.customer, l.channel, l.granted, l.source, l.at FROM customer_consent l "
    "WHERE l.id = (SELECT l2.id FROM customer_consent l2 WHERE l2.customer = l.customer "
    "AND l2.channel = l.channel ORDER BY l2.at DESC, l2.id DESC LIMIT 1) "
    "AND NOT EXISTS (SELECT 1 FROM customer_consent_state s WHERE s.customer = l.customer "
    "AND s.channel = l.channel)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
