"""Reading the pipeline: the board (stages with count, amount and their most recently
updated opportunities), one stage's column page by page, totals, and a customer's
opportunities for the 360 card. Everything is filtered by the caller's Scope on the customer.

A column is read off the (stage, status, updated_at) index: the stage fixes the status (its
outcome), so each column is a backward range scan with LIMIT, all columns in one UNION ALL.
The "more" cursor is the last card's (updated_at, id): keyset, never OFFSET.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from db.clock import SHOP_TZ, now
from db.customers.scope import Scope
from db.customers.service import get_customer
from db.engine import as_date, as_datetime, raw, reading
from db.pipeline.stages import list_stages

PER_STAGE = 50
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICRO = dt.timedelta(microseconds=1)

_CARD_COLUMNS = (
    "o.id, o.title, o.amount_fen, o.expected_close_on, o.stage, o.status, o.updated_at, "
    "o.owner, c.id AS customer_id, c.name AS customer_name, s.display_name AS owner_name"
)
_FROM = ("FROM opportunity o JOIN customer c ON c.id = o.customer "
         "LEFT JOIN staff_user s ON s.id = o.owner")


def encode_cursor(at: dt.datetime, row_id: int) -> str:
    return f"{(at - _EPOCH) // _MICRO}.{row_id}"


def decode_cursor(text: str | None) -> tuple[dt.datetime, int] | None:
    parts = (text or "").split(".")
    if len(parts) != 2 or len(text) > 40 or not all(p.isdecimal() for p in parts):
        return None
    micros, row_id = int(parts[0]), int(parts[1])
    if micros >= 253402300800 * 10**6:
        return None
    return _EPOCH + dt.timedelta(microseconds=micros), row_id


def _filters(scope: Scope, owner_id: int | None) -> tuple[list[str], list]:
    scope_sql, args = scope.clause("c")
    where = [scope_sql]
    if owner_id is not None:
        where.append("o.owner = {}")
        args.append(owner_id)
    return where, args


def _card(row: dict) -> dict:
    row["amount_fen"] = int(row["amount_fen"])
    row["expected_close_on"] = as_date(row["expected_close_on"])
    row["updated_at"] = as_datetime(row["updated_at"])
    return row


def _column_sql(stage: dict, where: list[str], args: list, cursor, limit: int) -> tuple[str, list]:
    conds = [*where, "o.stage = {}", "o.status = {}"]
    args = [*args, stage["id"], stage["outcome"]]
    if cursor is not None:
        conds.append("(o.updated_at < {} OR (o.updated_at = {} AND o.id < {}))")
        args += [cursor[0], cursor[0], cursor[1]]
    sql = (f"SELECT * FROM (SELECT {_CARD_COLUMNS} {_FROM} WHERE {' AND '.join(conds)} "
           f"ORDER BY o.updated_at DESC, o.id DESC LIMIT {int(limit)}) AS col_{int(stage['id'])}")
    return sql, args


def _cut(rows: list[dict], limit: int) -> tuple[list[dict], str | None]:
    more = len(rows) > limit
    rows = [_card(r) for r in rows[:limit]]
    return rows, (encode_cursor(rows[-1]["updated_at"], rows[-1]["id"]) if more and rows else None)


def month_start(tz: ZoneInfo = SHOP_TZ, at: dt.datetime | None = None) -> dt.datetime:
    local = (at or now()).astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.timezone.utc)


async def _totals(where: list[str], args: list, since: dt.datetime) -> dict:
    rows = await raw(
        "SELECT COALESCE(SUM(CASE WHEN o.status = 'open' THEN o.amount_fen ELSE 0 END), 0) AS open_fen, "
        "COALESCE(SUM(CASE WHEN o.status = 'won' AND o.closed_at >= {} THEN o.amount_fen ELSE 0 END), 0) "
        "AS won_month_fen, "
        "COALESCE(SUM(CASE WHEN o.status = 'won' AND o.closed_at >= {} THEN 1 ELSE 0 END), 0) "
        f"AS won_month_count FROM opportunity o JOIN customer c ON c.id = o.customer "
        f"WHERE {' AND '.join(where)}",
        since, since, *args,
    )
    return {k: int(v or 0) for k, v in rows[0].items()}


async def board(scope: Scope, *, owner_id: int | None = None, per_stage: int = PER_STAGE,
                tz: ZoneInfo = SHOP_TZ) -> dict:
    """{"stages": [stage + count, amount_fen, items, more], "totals": {open_fen,
    won_month_fen, won_month_count}}. owner_id keeps one person's opportunities ("Mine")."""
    where, args = _filters(scope, owner_id)
    async with reading():
        stages = await list_stages()
        sums = {r["stage"]: r for r in await raw(
            "SELECT o.stage, COUNT(*) AS n, COALESCE(SUM(o.amount_fen), 0) AS amount "
            f"FROM opportunity o JOIN customer c ON c.id = o.customer WHERE {' AND '.join(where)} "
            "GROUP BY o.stage", *args)}
        parts, part_args = [], []
        for stage in stages:
            sql, a = _column_sql(stage, where, args, None, per_stage + 1)
            parts.append(sql)
            part_args += a
        rows = await raw(" UNION ALL ".join(parts), *part_args) if parts else []
        totals = await _totals(where, args, month_start(tz))
    by_stage: dict[int, list[dict]] = {}
    for row in rows:
        by_stage.setdefault(row["stage"], []).append(row)
    for rows_ in by_stage.values():
        rows_.sort(key=lambda r: (as_datetime(r["updated_at"]), r["id"]), reverse=True)
    for stage in stages:
        found = sums.get(stage["id"])
        stage["count"] = int(found["n"]) if found else 0
        stage["amount_fen"] = int(found["amount"]) if found else 0
        stage["items"], stage["more"] = _cut(by_stage.get(stage["id"], []), per_stage)
    return {"stages": stages, "totals": totals}


async def column(scope: Scope, stage: dict, *, owner_id: int | None = None,
                 after: str | None = None, limit: int = PER_STAGE) -> tuple[list[dict], str | None]:
    """The next page of one stage's cards after the cursor, and the cursor after it."""
    where, args = _filters(scope, owner_id)
    sql, a = _column_sql(stage, where, args, decode_cursor(after), limit + 1)
    return _cut(await raw(sql, *a), limit)


async def for_customer(scope: Scope, customer_id: int, *, open_only: bool = True,
                       customer_checked: bool = False) -> list[dict]:
    """The customer's opportunities (open ones by default), most recently updated first, each
    with its stage's code and name. NotFound when the scope does not allow the customer
    (customer_checked: the caller has just read the customer through this scope)."""
    async with reading():
        if not customer_checked:
            await get_customer(scope, customer_id)
        rows = await raw(
            f"SELECT {_CARD_COLUMNS}, st.code AS stage_code, st.name AS stage_name, "
            f"st.outcome AS stage_outcome {_FROM} JOIN pipeline_stage st ON st.id = o.stage "
            "WHERE o.customer = {}" + (" AND o.status = 'open'" if open_only else "")
            + " ORDER BY o.updated_at DESC, o.id DESC LIMIT 100",
            customer_id,
        )
    return [_card(r) for r in rows]


async def card_section(scope: Scope, customer_id: int, *, customer_checked: bool = False) -> dict:
    """What web/templates/pipeline/_card_section.html needs, as the context variable
    `pipeline_section`: the customer's id, open opportunities and their total."""
    rows = await for_customer(scope, customer_id, customer_checked=customer_checked)
    return {"customer_id": customer_id, "opportunities": rows,
            "open_amount_fen": sum(r["amount_fen"] for r in rows)}
