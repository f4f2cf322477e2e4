"""The customer card's one timeline: orders, interactions, merges and pipeline moves, newest first.

Every kind of entry comes from a `Source` in `SOURCES`, the single place to add tickets and
campaign messages when those tables exist: give the source a
table, its customer and time columns, a rank (which kind comes first when two entries share
a time) and a loader that reads the details of the entries on one page.

A page is read in a fixed, small number of queries, whatever the size of the history:

1. one UNION ALL of per-source subqueries, each walking its own (customer, time, id) index
   backwards from the cursor with LIMIT page + 1, merged and cut to the page;
2. one detail query per source that has entries on the page (primary-key lookups).

The cursor is the last entry's (time, rank, id): keyset pagination, never OFFSET, so page 50
costs what page 1 costs and an entry logged meanwhile neither repeats nor hides another.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from db.customers.scope import Scope
from db.customers.service import get_customer
from db.engine import as_date, as_datetime, raw, reading

PAGE_SIZE = 20
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICRO = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    at: dt.datetime
    rank: int
    id: int

    def encode(self) -> str:
        return f"{(self.at - _EPOCH) // _MICRO}.{self.rank}.{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> "Cursor | None":
        """The cursor in a 'more' link, or None when it is missing or not one of ours."""
        parts = (text or "").split(".")
        if len(parts) != 3 or len(text) > 40:
            return None
        try:
            micros, rank, row_id = (int(p) for p in parts)
        except ValueError:
            return None
        if rank < 0 or row_id < 0 or not 0 <= micros < 253402300800 * 10**6:
            return None
        return cls(_EPOCH + dt.timedelta(microseconds=micros), rank, row_id)


@dataclass(frozen=True)
class Source:
    kind: str
    rank: int  # at equal times the higher rank comes first (newest-first reading order)
    table: str  # as written in SQL (quoted when it is a reserved word)
    customer_col: str
    time_col: str
    load: Callable[[int, list[int]], Awaitable[dict[int, dict]]]  # (customer, ids) -> details
    where: str = ""  # an extra condition (a follow-up is an entry once it is done)






def _json(value, default):
    if isinstance(value, str):
        try:
            return json.loads(value or "null") or default
        except ValueError:
            return default
    return value if value is not None else default


def _marks(ids: list[int]) -> str:
    return ", ".join("{}" for _ in ids)


# ---------------------------------------------------------------- loaders, one per source


async def _load_orders(customer_id: int, ids: list[int]) -> dict[int, dict]:
    rows = await raw(
        'SELECT id, channel, external_id, status, total_fen, currency, items FROM "order" '
        f"WHERE customer = {{}} AND id IN ({_marks(ids)})",
        customer_id, *ids,
    )
    out = {}
    for row in rows:
        items = [i for i in _json(row.pop("items"), []) if isinstance(i, dict)]
        row["first_item"] = str(items[0].get("name") or "") if items else ""
        row["item_count"] = len(items)
        row["quantity"] = sum(int(i.get("qty") or 0) for i in items)
        out[row["id"]] = row
    return out


async def _load_interactions(customer_id: int, ids: list[int]) -> dict[int, dict]:
    rows = await raw(
        "SELECT i.id, i.kind AS interaction_kind, i.body, i.outcome, i.next_follow_up_on, s.display_name AS staff_name "
        "FROM interaction i LEFT JOIN staff_user s ON s.id = i.staff "
        f"WHERE i.customer = {{}} AND i.id IN ({_marks(ids)})",
        customer_id, *ids,
    )
    for row in rows:
        row["next_follow_up_on"] = as_date(row["next_follow_up_on"])
    return {row["id"]: row for row in rows}


async def _load_merges(customer_id: int, ids: list[int]) -> dict[int, dict]:
    rows = await raw(
        "SELECT id, merged_id, merged_snapshot, moved, actor FROM merge_record "
        f"WHERE survivor = {{}} AND id IN ({_marks(ids)})",
        customer_id, *ids,
    )
    out = {}
    for row in rows:
        snapshot = _json(row.pop("merged_snapshot"), {})
        moved = _json(row.pop("moved"), {})
        row["merged_name"] = str(snapshot.get("name") or "") if isinstance(snapshot, dict) else ""
        tables = moved.get("tables", {}) if isinstance(moved, dict) else {}
        row["moved"] = {  # {"order": 3, "interaction": 2}: what came over, by table
            str(k): len(v) for k, v in (tables.items() if isinstance(tables, dict) else ())
            if isinstance(v, list) and v
        }
        out[row["id"]] = row
    return out


async def _load_follow_ups(customer_id: int, ids: list[int]) -> dict[int, dict]:
    rows = await raw(
        "SELECT f.id, f.kind AS follow_up_kind, f.title, f.outcome, f.outcome_code, f.due_at, f.next_follow_up, "
        "s.display_name AS staff_name FROM follow_up f LEFT JOIN staff_user s ON s.id = f.done_by "
        f"WHERE f.customer = {{}} AND f.id IN ({_marks(ids)})",
        customer_id, *ids,
    )
    for row in rows:
        row["due_at"] = as_datetime(row["due_at"])
    return {row["id"]: row for row in rows}


async def _load_stage_changes(customer_id: int, ids: list[int]) -> dict[int, dict]:
    rows = await raw(
        "SELECT sc.id, sc.kind AS change_kind, sc.opportunity AS opportunity_id, sc.amount_fen, "
        "o.title, fs.code AS from_code, fs.name AS from_name, ts.code AS to_code, "
        "ts.name AS to_name, s.display_name AS staff_name FROM opportunity_stage_change sc "
        "JOIN opportunity o ON o.id = sc.opportunity "
        "LEFT JOIN pipeline_stage fs ON fs.id = sc.from_stage "
        "LEFT JOIN pipeline_stage ts ON ts.id = sc.to_stage "
        "LEFT JOIN staff_user s ON s.id = sc.changed_by "
        f"WHERE sc.customer = {{}} AND sc.id IN ({_marks(ids)})",
        customer_id, *ids,
    )
    for row in rows:
        row["amount_fen"] = int(row["amount_fen"])
    return {row["id"]: row for row in rows}


# The one list of what the timeline shows. Tickets and campaign messages join here as their
# tables land (each needs a (customer, time, id) index). Points entries are keyed by member,
# not customer, and have their own history in the card's member section.
SOURCES: tuple[Source, ...] = (
    Source("order", 1, '"order"', "customer", "placed_at", _load_orders),
    Source("interaction", 2, "interaction", "customer", "happened_at", _load_interactions),
    Source("merge", 3, "merge_record", "survivor", "merged_at", _load_merges),
    Source("follow_up", 4, "follow_up", "customer", "done_at", _load_follow_ups, "status = 'done'"),
    Source("stage_change", 5, "opportunity_stage_change", "customer", "changed_at",
           _load_stage_changes),
)


# ---------------------------------------------------------------- reading a page


def _source_sql(source: Source, cursor: Cursor | None, limit: int) -> tuple[str, list]:
    """One source's newest entries after the cursor, straight off its index."""
    where, args = [f"{source.customer_col} = {{}}"], []
    if source.where:
        where.append(source.where)
    if cursor is not None:
        # (time, rank, id) < cursor, with this source's rank fixed: a plain range on the index.
        if source.rank < cursor.rank:
            where.append(f"{source.time_col} <= {{}}")
            args.append(cursor.at)
        elif source.rank > cursor.rank:
            where.append(f"{source.time_col} < {{}}")
            args.append(cursor.at)
        else:
            where.append(f"({source.time_col}, id) < ({{}}, {{}})")
            args += [cursor.at, cursor.id]
    sql = (
        f"SELECT * FROM (SELECT {source.rank} AS rank, id, {source.time_col} AS at "
        f"FROM {source.table} WHERE {' AND '.join(where)} "
        f"ORDER BY {source.time_col} DESC, id DESC LIMIT {limit}) AS s_{source.kind}"
    )
    return sql, args


async def _page(customer_id: int, cursor: Cursor | None, limit: int) -> tuple[list[dict], str | None]:
    parts, args = [], []
    for source in SOURCES:
        sql, source_args = _source_sql(source, cursor, limit + 1)
        parts.append(sql)
        args += [customer_id, *source_args]
    keys = await raw(
        " UNION ALL ".join(parts) + f" ORDER BY at DESC, rank DESC, id DESC LIMIT {limit + 1}",
        *args,
    )
    more = len(keys) > limit
    keys = keys[:limit]
    by_rank = {s.rank: s for s in SOURCES}
    details: dict[int, dict[int, dict]] = {}
    for source in SOURCES:
        ids = [k["id"] for k in keys if k["rank"] == source.rank]
        if ids:
            details[source.rank] = await source.load(customer_id, ids)
    entries = []
    for key in keys:
        detail = details.get(key["rank"], {}).get(key["id"])
        if detail is None:  # removed between the two reads
            continue
        entries.append({**detail, "kind": by_rank[key["rank"]].kind, "rank": key["rank"],
                        "id": key["id"], "at": as_datetime(key["at"])})
    next_cursor = None
    if more and keys:
        last = keys[-1]
        next_cursor = Cursor(as_datetime(last["at"]), last["rank"], last["id"]).encode()
    return entries, next_cursor


async def first_page(customer_id: int, limit: int = PAGE_SIZE) -> tuple[list[dict], str | None]:
    """The newest entries of a customer the caller has already checked the scope of."""
    return await _page(customer_id, None, limit)


async def timeline_page(
    scope: Scope, customer_id: int, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict], str | None]:
    """A page of the customer's timeline, newest first, and the cursor of the next page
    (None on the last page). NotFound when the scope does not allow the customer; a cursor
    that is not one of ours reads the first page."""
    async with reading():
        await get_customer(scope, customer_id)
        return await _page(customer_id, Cursor.decode(cursor), limit)
