from piccolo.columns import JSONB, Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class AuditEntry(Table):
    """Who did what to which record. Never holds a raw phone number or password."""

    id = Serial(primary_key=True)
    at = Timestamptz(index=True)
    actor_id = Integer(null=True, default=None)
    actor = Varchar(length=80, default="")
    action = Varchar(length=40, index=True)
    target_type = Varchar(length=40, default="")
    target_id = Integer(null=True, default=None)
    ip = Varchar(length=64, default="")
    detail = JSONB(default="{}")
