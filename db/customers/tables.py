from piccolo.columns import (
    Date,
    ForeignKey,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.staff.tables import StaffUser, Team

GENDERS = ("female", "male", "unknown")
INTERACTION_KINDS = ("call", "visit", "message", "note")


class Customer(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=100, index=True)
    mobile = Varchar(length=20, null=True, default=None, unique=True)
    email = Varchar(length=254, null=True, default=None, unique=True)
    gender = Varchar(length=8, default="unknown")
    birthday = Date(null=True, default=None)
    province = Varchar(length=20, default="")
    city = Varchar(length=40, default="")
    first_channel = Varchar(length=16, default="")
    owner = ForeignKey(StaffUser, null=True, index=True, on_delete=OnDelete.set_null)
    team = ForeignKey(Team, null=True, index=True, on_delete=OnDelete.set_null)
    search_text = Text(default="")
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz()


class Tag(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=40, unique=True)
    color = Varchar(length=16, default="blue")
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
    happened_at = Timestamptz(index=True)
    created_at = Timestamptz()
