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

from db.staff.tables import StaffUser, Team

GENDERS = ("female", "male", "unknown")
INTERACTION_KINDS = ("call", "visit", "message", "note")
INTERACTION_OUTCOMES = ("", "reached", "no_answer", "interested", "not_interested", "resolved")
LIFECYCLE_STAGES = ("prospect", "new", "active", "dormant", "churned")
FIELD_KINDS = ("text", "number", "date", "choice")
CONSENT_CHANNELS = ("push", "sms", "email")
CONSENT_SOURCES = ("member_page", "staff", "api", "signup", "import", "card", "unsubscribe",
                   "merge")  # merge: db/customers/consent.fold, when a merge changes the answer


class Customer(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=100, index=True)
    mobile = Varchar(length=20, null=True, default=None, unique=True)
    email = Varchar(length=254, null=True, default=None, unique=True)
    gender = Varchar(length=8, default="unknown")
    birthday = Date(null=True, default=None)
    province = Varchar(length=20, default="")
    city = Varchar(length=40, default="")
    address = Varchar(length=200, default="")
    first_channel = Varchar(length=16, default="")
    owner = ForeignKey(StaffUser, null=True, index=True, on_delete=OnDelete.set_null)
    team = ForeignKey(Team, null=True, index=True, on_delete=OnDelete.set_null)
    search_text = Text(default="")
    # Derived from paid orders (db/customers/lifecycle.py keeps them current, set-based):
    # stored so that lists, filters and rule tags read them straight off an index.
    lifecycle_stage = Varchar(length=12, default="prospect", index=True)
    rfm_r = SmallInt(default=0)  # 1-5 by quintile; 0 until the customer has a paid order
    rfm_f = SmallInt(default=0)
    rfm_m = SmallInt(default=0)
    orders_count = Integer(default=0)  # paid orders
    total_spent_fen = BigInt(default=0)
    first_order_at = Timestamptz(null=True, default=None)
    last_order_at = Timestamptz(null=True, default=None, index=True)
    next_follow_up_on = Date(null=True, default=None)
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()


class Tag(Table):
    """A manual tag (rule is empty) or a rule tag: `rule` is a JSON filter that
    db/customers/rules.py turns into SQL; its members are recomputed, never edited."""

    id = Serial(primary_key=True)
    name = Varchar(length=40, unique=True)
    color = Varchar(length=16, default="blue")
    rule = Text(default="")
    description = Varchar(length=200, default="")
    created_at = Timestamptz()


class CustomerTag(Table):
    """Unique per (customer, tag): a unique index is added in the migration."""

    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, index=True, on_delete=OnDelete.cascade)
    tag = ForeignKey(Tag, null=False, index=True, on_delete=OnDelete.cascade)
    created_at = Timestamptz()


class Interaction(Table):
    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, index=True, on_delete=OnDelete.cascade)
    staff = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    kind = Varchar(length=16)
    body = Text(default="")
    outcome = Varchar(length=20, default="")
    next_follow_up_on = Date(null=True, default=None)
    happened_at = Timestamptz(index=True)
    created_at = Timestamptz()


class CustomField(Table):
    """A field an admin adds to every customer: text, number, date or choice."""

    id = Serial(primary_key=True)
    key = Varchar(length=40, unique=True)  # stable name for import, export, API and rules
    label = Varchar(length=60)
    kind = Varchar(length=8, default="text")
    choices = Text(default="[]")  # JSON list of strings, for kind "choice"
    position = Integer(default=0)
    created_at = Timestamptz()


class CustomerFieldValue(Table):
    """One value per (customer, field): a unique index is added in the migration. Values
    are text: numbers as plain decimals, dates as ISO dates, so comparisons work in SQL."""

    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, index=True, on_delete=OnDelete.cascade)
    field = ForeignKey(CustomField, null=False, on_delete=OnDelete.cascade)
    value = Text(default="")


class ShopSetting(Table):
    """Small shop-wide settings (lifecycle thresholds, RFM quintile bounds) as JSON."""

    id = Serial(primary_key=True)
    key = Varchar(length=60, unique=True)
    value = Text(default="{}")
    updated_at = Timestamptz()


class MergeRecord(Table):
    """What a merge moved: the merged customer's profile as it was, and the ids of the rows
    that went to the survivor (db/customers/merge.py writes it in the merge's transaction)."""

    id = Serial(primary_key=True)
    survivor = ForeignKey(Customer, null=True, index=True, on_delete=OnDelete.set_null)
    merged_id = Integer()
    merged_snapshot = Text(default="{}")
    moved = Text(default="{}")
    actor_id = Integer(null=True, default=None)
    actor = Varchar(length=80, default="")
    merged_at = Timestamptz()


class DuplicateDismissal(Table):
    """A pair of customers staff reviewed and said are different people (low_id < high_id;
    unique, in the migration)."""

    id = Serial(primary_key=True)
    low_id = Integer()
    high_id = Integer()
    actor_id = Integer(null=True, default=None)
    dismissed_at = Timestamptz()


class CustomerConsent(Table):
    """Consent to marketing, for every customer: one row per recorded answer, never updated or
    deleted (db/customers/consent.py writes it). Index (customer, channel, at) in the migration."""

    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, on_delete=OnDelete.cascade)
    channel = Varchar(length=8)
    granted = Boolean(default=False)
    source = Varchar(length=12)
    detail = Varchar(length=60, default="")
    actor = Varchar(length=80, default="")
    at = Timestamptz()


class CustomerConsentState(Table):
    """The current answer per customer and channel (UNIQUE (customer, channel), in the
    migration), upserted with each log row; the later `at` wins."""

    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, on_delete=OnDelete.cascade)
    channel = Varchar(length=8)
    granted = Boolean(default=False)
    source = Varchar(length=12)
    at = Timestamptz()
