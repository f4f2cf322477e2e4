"""Composite indexes: Today (assignee, status, due), the card and next-follow-up date
(customer, status, due), the timeline (customer, done_at, id), the reminder claim (pending
reminders by time, partial) and the team view's completed-this-week (assignee, done_at)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T22:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "follow-up indexes"

BOTH = [
    'CREATE INDEX follow_up_assignee_status_due ON follow_up ("assignee", "status", "due_at")',
    'CREATE INDEX follow_up_customer_status_due ON follow_up ("customer", "status", "due_at")',
    'CREATE INDEX follow_up_customer_done ON follow_up ("customer", "done_at", "id")',
    'CREATE INDEX follow_up_assignee_done ON follow_up ("assignee", "done_at")',
    'CREATE INDEX follow_up_by_plan ON follow_up ("plan")',  # "follow_up_plan" is a table
    "CREATE INDEX follow_up_reminder_due ON follow_up (\"remind_at\") WHERE reminder_state = 'pending'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="followups", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
