"""Report files, their askers, subscriptions and deliveries (rules: files.py, subscriptions.py)."""

from piccolo.columns import Bytea, ForeignKey, Integer, Real, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.staff.tables import StaffUser

FILE_STATUSES = ("queued", "running", "done", "failed")
CADENCES = ("weekly", "monthly")
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed")


class ReportFile(Table):
    """One generated file. Its bytes live here, in the database: every process and machine
    serves them (no shared disk needed), a backup holds them, and a purge is one DELETE; a
    report PDF is a few hundred KB, kept 7 days. `key` names the report, its parameters, the
    scope it was made with and its format: while a file with that key is queued or running
    (a partial unique index) a second asker joins it instead of starting another."""

    id = Serial(primary_key=True)
    key = Varchar(length=400)
    report = Varchar(length=40)
    params = Text(default="{}")  # {"from", "to", "channel", "team", "lang"}
    scope = Text(default="{}")  # {"kind", "user_id", "team_id"}: whose figures
    fmt = Varchar(length=8)  # pdf | xlsx
    status = Varchar(length=8, default="queued")
    progress = Real(default=0.0)  # 0..1 while it runs
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


class ReportFileRequest(Table):
    """Who asked for a file (two managers asking at once share one file): each gets the push
    and sees it on /reports. Unique on (file, user), in the migration."""

    id = Serial(primary_key=True)
    file = ForeignKey(ReportFile, null=False, index=True, on_delete=OnDelete.cascade)
    user = ForeignKey(StaffUser, null=False, index=True, on_delete=OnDelete.cascade)
    created_at = Timestamptz()


class ReportSubscription(Table):
    """A report e-mailed to one manager or admin every week (Monday 08:00 shop time, the week
    before) or month (the 1st, the month before). Unique on (report, params, cadence,
    recipient), in the migration: a second identical subscription is refused."""

    id = Serial(primary_key=True)
    report = Varchar(length=40)
    params = Text(default="{}")  # {"channel", "team"}, keys sorted: compared as text
    cadence = Varchar(length=8)
    recipient = ForeignKey(StaffUser, null=False, index=True, on_delete=OnDelete.cascade)
    created_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class ReportDelivery(Table):
    """One subscription's report for one period: sent once (unique on (subscription,
    period_start), in the migration), its attempts and last error shown on the schedule page."""

    id = Serial(primary_key=True)
    subscription = ForeignKey(ReportSubscription, null=False, index=True, on_delete=OnDelete.cascade)
    period_start = Varchar(length=10)  # YYYY-MM-DD
    period_end = Varchar(length=10)
    status = Varchar(length=8, default="queued")
    attempts = Integer(default=0)
    last_error = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
