"""Report files (and who asked for each), subscriptions and deliveries, with the unique
indexes their rules rest on (db/reports/files.py, subscriptions.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Bytea, ForeignKey, Integer, Real, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.engine.finder import engine_finder
from piccolo.table import Table

ID = "2026-12-07T15:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "report_file, report_file_request, report_subscription, report_delivery"


# Copies as of this migration, not the live tables.
class StaffUser(Table, tablename="staff_user"):
    id = Serial(primary_key=True)


class ReportFile(Table, tablename="report_file"):
    id = Serial(primary_key=True)
    key = Varchar(length=400)
    report = Varchar(length=40)
    params = Text(default="{}")
    scope = Text(default="{}")
    fmt = Varchar(length=8)
    status = Varchar(length=8, default="queued")
    progress = Real(default=0.0)
    error = Text(default="")
    filename = Varchar(length=200, default="")
    media_type = Varchar(length=100, default="")
    pages = Integer(null=True, default=None)
    size = Integer(default=0)
    content = Bytea(null=True, default=None)
    requested_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz()


class ReportFileRequest(Table, tablename="report_file_request"):
    id = Serial(primary_key=True)
    file = ForeignKey(ReportFile, null=False, index=True, on_delete=OnDelete.cascade)
    user = ForeignKey(StaffUser, null=False, index=True, on_delete=OnDelete.cascade)
    created_at = Timestamptz()


class ReportSubscription(Table, tablename="report_subscription"):
    id = Serial(primary_key=True)
    report = Varchar(length=40)
    params = Text(default="{}")
    cadence = Varchar(length=8)
    recipient = ForeignKey(StaffUser, null=False, index=True, on_delete=OnDelete.cascade)
    created_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class ReportDelivery(Table, tablename="report_delivery"):
    id = Serial(primary_key=True)
    subscription = ForeignKey(ReportSubscription, null=False, index=True, on_delete=OnDelete.cascade)
    period_start = Varchar(length=10)
    period_end = Varchar(length=10)
    status = Varchar(length=8, default="queued")
    attempts = Integer(default=0)
    last_error = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


INDEXES = [
    # Two askers at once: one file while it is being made.
    "CREATE UNIQUE INDEX report_file_live ON report_file (key) WHERE status IN ('queued', 'running')",
    "CREATE INDEX report_file_expires ON report_file (expires_at)",
    "CREATE UNIQUE INDEX report_file_request_once ON report_file_request (file, \"user\")",
    "CREATE INDEX report_file_request_recent ON report_file_request (\"user\", created_at)",
    "CREATE UNIQUE INDEX report_subscription_once ON report_subscription (report, params, cadence, recipient)",
    # A send happens once per subscription and period.
    "CREATE UNIQUE INDEX report_delivery_once ON report_delivery (subscription, period_start)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def run():
        for table in (ReportFile, ReportFileRequest, ReportSubscription, ReportDelivery):
            await table.create_table()
        engine = engine_finder()
        for sql in INDEXES:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
