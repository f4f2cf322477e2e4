from piccolo.columns import Serial, Timestamptz, Varchar
from piccolo.table import Table


class LimitAttempt(Table):
    """One counted attempt against a limit key (`user:…`, `ip:…`, `totp:…` for staff sign-in;
    `send:…`, `fail:…`, `lock:…` for member sign-in). Rows older than db.limits.KEEP go."""

    id = Serial(primary_key=True)
    key = Varchar(length=160)
    at = Timestamptz()
