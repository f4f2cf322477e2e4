from piccolo.columns import (
    BigInt,
    Boolean,
    ForeignKey,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

ROLES = ("admin", "manager", "staff")


class Team(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=80, unique=True)
    created_at = Timestamptz()


class StaffUser(Table):
    id = Serial(primary_key=True)
    username = Varchar(length=64, unique=True)
    display_name = Varchar(length=80)
    password_hash = Varchar(length=255)
    role = Varchar(length=16, default="staff")
    team = ForeignKey(Team, null=True, index=True, on_delete=OnDelete.set_null)
    is_active = Boolean(default=True)
    totp_secret = Varchar(length=64, null=True, default=None)
    totp_enabled = Boolean(default=False)
    # The 30-second step of the last code that signed in: a code works once per account.
    totp_last_step = BigInt(null=True, default=None)
    locale = Varchar(length=8, null=True, default=None)
    timezone = Varchar(length=40, null=True, default=None)
    # Where scheduled reports are e-mailed (db/reports/subscriptions.py); set on /account.
    email = Varchar(length=254, null=True, default=None)
    password_changed_at = Timestamptz()
    created_at = Timestamptz()


class StaffSession(Table):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(StaffUser, null=False, index=True, on_delete=OnDelete.cascade)
    csrf_token = Varchar(length=64)
    # "" once fully signed in; "verify" while a TOTP code is due; "setup" while an admin
    # who must use two-factor has not set it up yet.
    pending = Varchar(length=8, default="")
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=255, default="")


class ApiKey(Table):
    id = Serial(primary_key=True)
    name = Varchar(length=80)
    prefix = Varchar(length=16)
    key_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked = Boolean(default=False)
