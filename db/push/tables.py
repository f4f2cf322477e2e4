from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.members.tables import Member
from db.staff.tables import StaffUser

URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 section 5.3
STATES = ("pending", "sending", "sent", "failed")


class PushSubscription(Table):
    """One browser on one device that agreed to receive our notifications. The endpoint is the
    push service's URL for it; it belongs to whoever subscribed from that browser last: a staff
    user (`user`) or a member on the member page (`member`), exactly one of the two."""

    id = Serial(primary_key=True)
    user = ForeignKey(StaffUser, null=True, default=None, on_delete=OnDelete.cascade, index=True)
    member = ForeignKey(Member, null=True, default=None, on_delete=OnDelete.cascade, index=True)
    endpoint = Varchar(length=2048, unique=True)
    p256dh = Varchar(length=100)  # the browser's P-256 public key, base64url
    auth = Varchar(length=40)  # the 16-byte auth secret, base64url
    user_agent = Varchar(length=300, default="")
    created_at = Timestamptz()
    last_success_at = Timestamptz(null=True, default=None)
    failures = Integer(default=0)  # consecutive failed deliveries


class PushMessage(Table):
    """The outbox: one row per message per device, sent by whichever process claims it first
    (state, not_before and lease_until are the claim; see db/push/sender.py)."""

    id = Serial(primary_key=True)
    subscription = ForeignKey(PushSubscription, on_delete=OnDelete.cascade, index=True)
    ref = Varchar(length=200, null=True, default=None, index=True)  # e.g. followup:123:reminder
    payload = Text()  # JSON {title, body, url, ...}
    urgency = Varchar(length=8, default="normal")
    ttl = Integer(default=86400)
    state = Varchar(length=8, default="pending")
    attempts = Integer(default=0)
    not_before = Timestamptz()
    lease_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    last_status = Integer(null=True, default=None)
    last_error = Text(default="")
