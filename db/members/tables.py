"""Members (会员): tiers, the points ledger (积分流水), rewards and coupons.

The ledger is append-only: a PointsEntry is never changed or deleted. Each credit opens a
PointsLot whose `remaining` debits use up oldest-expiry first (FIFO); expiry takes what is
left of a lot. `Member.points_balance` caches the sum of the member's entries and is
changed only by db/members/ledger.py, in the same transaction as the entry; a CHECK on
PostgreSQL and a trigger on SQLite refuse a negative balance as the last line of defence.
"""

from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.customers.tables import Customer

JOIN_SOURCES = ("signup", "staff", "api", "order")
CONSENT_SOURCES = ("member_page", "staff", "api", "signup")  # what the member flows may write
ENTRY_KINDS = ("earn", "redeem", "expire", "adjust", "reverse")
ENTRY_SOURCES = ("order", "reward", "rule", "staff", "api")
COUPON_KINDS = ("amount", "percent")
COUPON_SOURCES = ("reward", "staff", "api", "campaign")


class Tier(Table):
    """会员等级. `position` orders them (0 = the base tier everyone has). A member qualifies
    for a tier when any of its set thresholds is met over the last 12 months."""

    id = Serial(primary_key=True)
    name = Varchar(length=20, unique=True)
    position = SmallInt(default=0, unique=True)
    min_spend_fen = BigInt(null=True, default=None)  # paid spend, rolling 12 months
    min_points = BigInt(null=True, default=None)  # points earned, rolling 12 months
    multiplier_pct = Integer(default=100)  # earn multiplier: 150 = 1.5x
    benefits = Text(default="")
    color = Varchar(length=16, default="gray")
    created_at = Timestamptz()


class Member(Table):
    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, unique=True, on_delete=OnDelete.restrict)
    member_no = Varchar(length=12, unique=True)
    joined_at = Timestamptz()
    source = Varchar(length=8)
    tier = ForeignKey(Tier, null=False, index=True, on_delete=OnDelete.restrict)
    tier_since = Timestamptz()
    points_balance = BigInt(default=0)  # = SUM(points_entry.delta); never negative
    shortfall = BigInt(default=0)  # refunded points that were already spent (staff see it)
    downgrade_to = ForeignKey(Tier, null=True, default=None, on_delete=OnDelete.set_null)
    expiry_notice_on = Date(null=True, default=None)  # the expiry date last announced
    updated_at = Timestamptz()


class MemberConsent(Table):
    """Consent to marketing, one row per change (the latest per channel is current)."""

    id = Serial(primary_key=True)
    member = ForeignKey(Member, null=False, index=True, on_delete=OnDelete.cascade)
    channel = Varchar(length=8)
    granted = Boolean(default=False)
    source = Varchar(length=12)
    actor = Varchar(length=80, default="")
    at = Timestamptz()


class TierChange(Table):
    id = Serial(primary_key=True)
    member = ForeignKey(Member, null=False, index=True, on_delete=OnDelete.cascade)
    from_tier = ForeignKey(Tier, null=True, default=None, on_delete=OnDelete.set_null)
    to_tier = ForeignKey(Tier, null=True, default=None, on_delete=OnDelete.set_null)
    reason = Varchar(length=200)
    actor = Varchar(length=80, default="")
    at = Timestamptz()


class PointsEntry(Table):
    """One line of points history. `idempotency_key` is unique: a replay finds the first."""

    id = Serial(primary_key=True)
    member = ForeignKey(Member, null=False, on_delete=OnDelete.restrict)
    kind = Varchar(length=8)
    delta = BigInt()
    balance_after = BigInt()
    reason = Varchar(length=200)
    source_type = Varchar(length=8)
    source_id = Integer(null=True, default=None)
    idempotency_key = Varchar(length=120, unique=True)
    shortfall = BigInt(default=0)  # a reversal that could take back only part
    actor = Varchar(length=80, default="")
    created_at = Timestamptz()


class PointsLot(Table):
    """What is left of one credit. Debits and expiry take from lots oldest-expiry first."""

    id = Serial(primary_key=True)
    member = ForeignKey(Member, null=False, on_delete=OnDelete.restrict)
    entry = ForeignKey(PointsEntry, null=False, unique=True, on_delete=OnDelete.restrict)
    amount = BigInt()
    remaining = BigInt()
    expires_on = Date(null=True, default=None)  # null: never expires
    created_at = Timestamptz()


class CouponType(Table):
    """A kind of coupon: amount off (fen) or percent off, with a minimum spend."""

    id = Serial(primary_key=True)
    name = Varchar(length=60)
    kind = Varchar(length=8)
    amount_off_fen = BigInt(default=0)
    percent_off = SmallInt(default=0)
    min_spend_fen = BigInt(default=0)
    valid_days = Integer(null=True, default=None)  # from issue; else the window below
    valid_from = Timestamptz(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class Reward(Table):
    """礼品 / 权益 in the catalogue. stock null = unlimited; a coupon_type reward issues one."""

    id = Serial(primary_key=True)
    name = Varchar(length=60)
    description = Text(default="")
    points_cost = BigInt()
    stock = Integer(null=True, default=None)
    valid_from = Timestamptz(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    coupon_type = ForeignKey(CouponType, null=True, default=None, on_delete=OnDelete.restrict)
    active = Boolean(default=True)
    created_at = Timestamptz()


class Redemption(Table):
    id = Serial(primary_key=True)
    member = ForeignKey(Member, null=False, index=True, on_delete=OnDelete.restrict)
    reward = ForeignKey(Reward, null=False, on_delete=OnDelete.restrict)
    points = BigInt()
    entry = ForeignKey(PointsEntry, null=False, unique=True, on_delete=OnDelete.restrict)
    created_at = Timestamptz()


class Coupon(Table):
    """One issued coupon: a unique code, single use (used_at set once)."""

    id = Serial(primary_key=True)
    code = Varchar(length=16, unique=True)
    coupon_type = ForeignKey(CouponType, null=False, on_delete=OnDelete.restrict)
    member = ForeignKey(Member, null=False, index=True, on_delete=OnDelete.restrict)
    redemption = ForeignKey(Redemption, null=True, default=None, on_delete=OnDelete.restrict)
    source = Varchar(length=8)
    issued_by = Varchar(length=80, default="")
    valid_from = Timestamptz()
    valid_until = Timestamptz(null=True, default=None)
    used_at = Timestamptz(null=True, default=None)
    used_order = Varchar(length=64, default="")
    issued_at = Timestamptz()


# ---------------------------------------------------------------- member sign-in (/m/)
# db/members/signin.py holds the rules; these rows make them hold across server processes.


class MemberSignInCode(Table):
    """A one-time sign-in secret: a 6-digit SMS code (kind "sms"), a support link from
    `crm member login-link` (kind "link") or the proof, after a code for a number that is
    not a member yet, that lets it join (kind "join"). Only an HMAC of the secret is kept."""

    id = Serial(primary_key=True)
    kind = Varchar(length=8)
    mobile = Varchar(length=20)  # E.164
    secret_hash = Varchar(length=64, index=True)
    member = ForeignKey(Member, null=True, default=None, on_delete=OnDelete.cascade)
    tries = SmallInt(default=0)  # wrong codes typed against it
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)  # also set when it dies of wrong tries
    ip = Varchar(length=64, default="")


class MemberSession(Table):
    """A member signed in on the member page. Separate from staff sessions (own table, own
    cookie): neither ever grants anything to the other. Only the token's hash is stored."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    member = ForeignKey(Member, null=False, index=True, on_delete=OnDelete.cascade)
    csrf_token = Varchar(length=64)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=255, default="")
