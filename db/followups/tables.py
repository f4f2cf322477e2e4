"""Follow-ups (跟进任务): promised calls, visits and checks, each owned by one assignee.

Times are stored in UTC and shown in the viewer's zone. A follow-up's reminder is claimed
once (reminder_state pending -> sent) in the same transaction that queues its push
messages, so several server processes never remind twice.
"""

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.customers.tables import Customer
from db.pipeline.tables import Opportunity
from db.staff.tables import StaffUser

KINDS = ("call", "visit", "message", "after_sales")
PRIORITIES = ("low", "normal", "high")
STATUSES = ("open", "done", "cancelled")
# A completion's outcome, stored as the code and shown translated (components/labels.html).
OUTCOMES = ("reached", "no_answer", "interested", "not_interested", "resolved")


class FollowUpPlan(Table):
    """A recurring plan: completing one of its follow-ups creates the next, every_days later."""

    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, index=True, on_delete=OnDelete.restrict)
    assignee = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    kind = Varchar(length=16, default="call")
    title = Varchar(length=200)
    priority = Varchar(length=8, default="normal")
    every_days = Integer(default=30)
    active = Boolean(default=True)
    created_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class FollowUp(Table):
    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, on_delete=OnDelete.restrict)
    opportunity = ForeignKey(Opportunity, null=True, index=True, on_delete=OnDelete.set_null)
    plan = Integer(null=True, default=None)  # FollowUpPlan id (never deleted); indexed as follow_up_by_plan
    assignee = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    kind = Varchar(length=16, default="call")
    title = Varchar(length=200)
    priority = Varchar(length=8, default="normal")
    status = Varchar(length=12, default="open")
    due_at = Timestamptz()
    remind_at = Timestamptz(null=True, default=None)
    reminder_state = Varchar(length=8, default="none")  # none | pending | sent
    reminded_at = Timestamptz(null=True, default=None)
    reminder_late = Boolean(default=False)
    outcome = Text(default="")  # what happened, as written (the API's outcome; the sheet's note)
    outcome_code = Varchar(length=20, default="")  # one of OUTCOMES, or "" (shown translated)
    note = Text(default="")  # what the visit or completion that planned this one said (Today shows it)
    done_at = Timestamptz(null=True, default=None)
    done_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    next_follow_up = Integer(null=True, default=None)  # the one created when this was completed
    source = Varchar(length=16, default="web")  # web | api | plan | log
    created_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class DigestSetting(Table):
    """When a person wants the morning list of today's follow-ups pushed (their local time)."""

    id = Serial(primary_key=True)
    user = ForeignKey(StaffUser, null=False, unique=True, on_delete=OnDelete.cascade)
    digest_at = Varchar(length=5, default="")  # HH:MM, "" = off
    last_sent_on = Varchar(length=10, default="")  # the local day last sent (YYYY-MM-DD)
