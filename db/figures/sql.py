"""What the figures' SQL shares: stored-time parameters, the scope and channel conditions for
customers, orders and people, and integer rounding (money in fen, rates in permille)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from db.engine import is_sqlite
from db.figures.filters import ReportFilter


def at(value: dt.datetime) -> Any:
    """A UTC instant compared with stored times (SQLite compares Piccolo's text form)."""
    value = value.astimezone(dt.timezone.utc).replace(microsecond=0)
    return str(value) if is_sqlite() else value


def customers(filt: ReportFilter, alias: str = "c") -> tuple[str, list]:
    """The customers a filter covers: its scope and, if given, their first channel."""
    sql, args = filt.customer_scope.clause(alias)
    if filt.channel:
        sql, args = f"{sql} AND {alias}.first_channel = {{}}", [*args, filt.channel]
    return sql, args


def orders(filt: ReportFilter, order: str = "o", customer: str = "c") -> tuple[str, str, list]:
    """Orders of the filter's customers and, if given, placed in its channel: the JOIN the
    scope needs (none for everyone: the query then reads the paid-orders index alone) and the
    condition."""
    scope = filt.customer_scope
    join = "" if scope.kind == "all" else f" JOIN customer {customer} ON {customer}.id = {order}.customer"
    sql, args = scope.clause(customer)
    if filt.channel:
        sql, args = f"{sql} AND {order}.channel = {{}}", [*args, filt.channel]
    return join, sql, args


def people(filt: ReportFilter, column: str) -> tuple[str, list]:
    """Whose work a filter covers, as a condition on a staff-user id column: staff their own,
    a manager (or an admin narrowed to a team) the team's members, an admin everyone."""
    scope = filt.customer_scope
    if scope.kind == "own":
        return f"{column} = {{}}", [scope.user_id]
    if scope.kind == "team":
        if scope.team_id is None:
            return "1 = 0", []
        return f"{column} IN (SELECT tu.id FROM staff_user tu WHERE tu.team = {{}})", [scope.team_id]
    return "1 = 1", []


def ratio(part: int, whole: int, scale: int = 1) -> int:
    """part * scale / whole rounded half up, in integers (0 when whole is 0)."""
    if whole <= 0:
        return 0
    return (2 * part * scale + whole) // (2 * whole)


def permille(part: int, whole: int) -> int:
    return ratio(part, whole, 1000)


def number(value: Any) -> int:
    """An aggregate as an int (SUM of nothing is NULL; PostgreSQL's SUM of BIGINT a Decimal)."""
    return int(value or 0)
