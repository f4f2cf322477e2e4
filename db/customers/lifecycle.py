"""Figures derived from paid orders: counts, spend, first and last order, lifecycle stage, RFM.

They are stored on the customer so that lists, filters and rule tags read them off an index,
and they are computed set-based in SQL, never row by row: `refresh_customers` for the few
customers an order or an import touched (inside that write), `recompute_all` at night for
everyone (stages move with the calendar even when nobody orders), in id ranges so that a
million customers never hold the write lock for long.

Stages: prospect (no paid order), new (first paid order within `new_days`), active (last paid
order within `active_days`), dormant (up to `dormant_days`), churned (longer ago).
RFM: 1-5 by quintile of recency, order count and spend among customers with a paid order; the
quintile bounds come from the last full recompute, so a score means the same for everyone.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from db.clock import now
from db.customers.rules import refresh_rule_tags
from db.customers.tables import ShopSetting
from db.engine import is_sqlite, raw, writing
from db.errors import ValidationFailed

DEFAULT_THRESHOLDS = {"new_days": 30, "active_days": 90, "dormant_days": 180}
THRESHOLDS_KEY = "lifecycle_thresholds"
BOUNDS_KEY = "rfm_bounds"
CHUNK = 50_000  # customers per transaction in the full recompute


# ---------------------------------------------------------------- settings


async def _setting(key: str) -> Any:
    row = await ShopSetting.select(ShopSetting.value).where(ShopSetting.key == key).first()
    return json.loads(row["value"]) if row else None


async def _save_setting(key: str, value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    async with writing():
        if await ShopSetting.exists().where(ShopSetting.key == key):
            await ShopSetting.update({ShopSetting.value: text, ShopSetting.updated_at: now()}).where(
                ShopSetting.key == key
            )
        else:
            await ShopSetting.insert(ShopSetting(key=key, value=text, updated_at=now()))


async def thresholds() -> dict[str, int]:
    return {**DEFAULT_THRESHOLDS, **(await _setting(THRESHOLDS_KEY) or {})}


def parse_thresholds(new_days: Any, active_days: Any, dormant_days: Any) -> dict[str, int]:
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for key, value in (("new_days", new_days), ("active_days", active_days),
                       ("dormant_days", dormant_days)):
        text = str(value if value is not None else "").strip()
        if not text.isdecimal() or not 1 <= int(text) <= 3650:
            errors[key] = "a whole number of days from 1 to 3650"
        else:
            values[key] = int(text)
    if not errors and not values["new_days"] <= values["active_days"] < values["dormant_days"]:
        errors["dormant_days"] = "new ≤ active < dormant days"
    if errors:
        raise ValidationFailed(errors)
    return values


async def set_thresholds(new_days: Any, active_days: Any, dormant_days: Any) -> None:
    await _save_setting(THRESHOLDS_KEY, parse_thresholds(new_days, active_days, dormant_days))


# ---------------------------------------------------------------- the SQL


def _stats_sql(where: str) -> str:
    """Paid-order figures for the customers `where` selects (alias c), written only where
    they changed. `where` applies to both the customers and their orders (alias o)."""
    spend = "CAST(SUM(o.total_fen) AS BIGINT)"
    return (
        "UPDATE customer SET orders_count = a.n, total_spent_fen = a.s, "
        "first_order_at = a.f, last_order_at = a.l "
        "FROM (SELECT c.id AS cid, COALESCE(agg.n, 0) AS n, COALESCE(agg.s, 0) AS s, "
        "agg.f AS f, agg.l AS l FROM customer c LEFT JOIN ("
        f"SELECT o.customer, COUNT(*) AS n, {spend} AS s, MIN(o.placed_at) AS f, "
        "MAX(o.placed_at) AS l FROM \"order\" o WHERE o.status = 'paid' AND "
        + where.replace("c.id", "o.customer")
        + f" GROUP BY o.customer) agg ON agg.customer = c.id WHERE {where}) a "
        "WHERE customer.id = a.cid AND (customer.orders_count <> a.n "
        "OR customer.total_spent_fen <> a.s OR customer.first_order_at IS DISTINCT FROM a.f "
        "OR customer.last_order_at IS DISTINCT FROM a.l)"
    )


def _score(column: str, bounds: list) -> tuple[str, list]:
    """1 + how many quintile bounds the value lies above; 0 without a paid order."""
    if not bounds:
        return "CASE WHEN orders_count = 0 THEN 0 ELSE 3 END", []
    parts = " + ".join(f"CASE WHEN {column} > {{}} THEN 1 ELSE 0 END" for _ in bounds)
    return f"CASE WHEN orders_count = 0 THEN 0 ELSE 1 + {parts} END", list(bounds)


def _derived_sql(where: str, limits: dict[str, int], bounds: dict, at: dt.datetime) -> tuple[str, list]:
    """Stage and RFM for the customers `where` selects, from their stored figures."""
    stage = (
        "CASE WHEN orders_count = 0 OR last_order_at IS NULL THEN 'prospect' "
        "WHEN first_order_at >= {} THEN 'new' WHEN last_order_at >= {} THEN 'active' "
        "WHEN last_order_at >= {} THEN 'dormant' ELSE 'churned' END"
    )
    stage_args = [at - dt.timedelta(days=limits[k]) for k in ("new_days", "active_days", "dormant_days")]
    r_sql, r_args = _score("last_order_at", [_as_time(b) for b in bounds.get("r", [])])
    f_sql, f_args = _score("orders_count", bounds.get("f", []))
    m_sql, m_args = _score("total_spent_fen", bounds.get("m", []))
    exprs = [("lifecycle_stage", stage, stage_args), ("rfm_r", r_sql, r_args),
             ("rfm_f", f_sql, f_args), ("rfm_m", m_sql, m_args)]
    sets = ", ".join(f"{col} = {sql}" for col, sql, _ in exprs)
    changed = " OR ".join(f"{col} <> {sql}" for col, sql, _ in exprs)
    args = [a for _, _, a in exprs for a in a]
    return f"UPDATE customer SET {sets} WHERE {where} AND ({changed})", args + args


def _as_time(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.timezone.utc)


async def _quintile_bounds() -> dict[str, list]:
    """The values at the 20/40/60/80 % ranks of recency, frequency and spend."""
    count = (await raw("SELECT COUNT(*) AS n FROM customer WHERE orders_count > 0"))[0]["n"]
    if count == 0:
        return {}
    ranks = sorted({max(1, (count * k) // 5) for k in (1, 2, 3, 4)})
    marks = ", ".join(str(r) for r in ranks)
    out: dict[str, list] = {}
    for key, column in (("r", "last_order_at"), ("f", "orders_count"), ("m", "total_spent_fen")):
        rows = await raw(
            f"SELECT v FROM (SELECT {column} AS v, ROW_NUMBER() OVER (ORDER BY {column}) AS rn "
            f"FROM customer WHERE orders_count > 0) t WHERE rn IN ({marks}) ORDER BY rn"
        )
        values = [row["v"] for row in rows]
        out[key] = [_as_time(v).isoformat() for v in values] if key == "r" else [int(v) for v in values]
    return out


def _to_db_time(value: dt.datetime) -> Any:
    """Cut-offs compared with stored times: SQLite compares Piccolo's text form."""
    value = value.astimezone(dt.timezone.utc).replace(microsecond=0)
    return str(value) if is_sqlite() else value


def _prepare(args: list) -> list:
    return [_to_db_time(a) if isinstance(a, dt.datetime) else a for a in args]


# ---------------------------------------------------------------- entry points


async def refresh_customers(customer_ids: list[int]) -> None:
    """Bring these customers' figures, stage, RFM and rule tags up to date (set-based).

    Call it inside the write transaction that changed their orders; it joins it."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return

    limits = await thresholds()
    bounds = await _setting(BOUNDS_KEY)
    async with writing():
        if not is_sqlite():
            # READ COMMITTED: lock the customers first, so the aggregate below sees an order
            # another transaction just committed for them instead of overwriting its figures
            # with stale ones. NO KEY UPDATE does not conflict with the KEY SHARE locks that
            # inserting an order takes on its customer (FOR UPDATE would deadlock with them);
            # id order keeps two multi-customer writers from deadlocking each other.
            marks = ", ".join("{}" for _ in ids)
            await raw(f"SELECT id FROM customer WHERE id IN ({marks}) ORDER BY id FOR NO KEY UPDATE", *ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            where = f"c.id IN ({', '.join('{}' for _ in chunk)})"
            stats_args = chunk * 2  # the orders' filter, then the customers'
            await raw(_stats_sql(where), *stats_args)
        if bounds is None:  # a new shop: score against today's distribution
            bounds = await _quintile_bounds()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            where = f"id IN ({', '.join('{}' for _ in chunk)})"
            sql, args = _derived_sql(where, limits, bounds, now())
            n = len(args) // 2
            await raw(sql, *_prepare(args[:n]), *chunk, *_prepare(args[n:]))
        await refresh_rule_tags(customer_ids=ids)


async def recompute_all() -> dict[str, Any]:
    """Everyone, in id ranges of CHUNK customers per transaction: figures, then quintile
    bounds from the fresh figures, then stage and RFM, then every rule tag."""

    started = now()
    span = (await raw("SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM customer"))[0]
    lo, hi = span["lo"] or 0, span["hi"] or -1
    ranges = [(a, min(a + CHUNK - 1, hi)) for a in range(lo, hi + 1, CHUNK)]
    for a, b in ranges:
        async with writing():
            await raw(_stats_sql("c.id BETWEEN {} AND {}"), a, b, a, b)
    bounds = await _quintile_bounds()
    await _save_setting(BOUNDS_KEY, bounds)
    limits = await thresholds()
    at = now()
    for a, b in ranges:
        sql, args = _derived_sql("id BETWEEN {} AND {}", limits, bounds, at)
        n = len(args) // 2
        async with writing():
            await raw(sql, *_prepare(args[:n]), a, b, *_prepare(args[n:]))
    if not is_sqlite():
        # The stages and scores just moved for up to every customer: without fresh statistics
        # PostgreSQL plans the rule tags' anti-joins for the old ones (a nested loop that
        # rescans the tag's members for each of 700,000 customers took over 10 minutes).
        await raw("ANALYZE customer")
    await refresh_rule_tags()
    if not is_sqlite():
        await raw("ANALYZE customer_tag")
    seconds = (now() - started).total_seconds()
    return {"customers": span["n"], "seconds": round(seconds, 1), "bounds": bounds}
