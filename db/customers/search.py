"""The customer list's search: by name, mobile digits or e-mail, within a scope, newest first."""

from __future__ import annotations

from db.customers import identity
from db.customers.scope import Scope
from db.customers.service import tags_for
from db.customers.tables import LIFECYCLE_STAGES
from db.engine import as_datetime, is_sqlite, like_escape, raw, reading
from db.text import strip_control

PAGE_SIZE = 20


def clean_query(q: str | None) -> str:
    """A search term as typed, without control characters (a NUL breaks SQLite's full-text
    query and PostgreSQL's text), trimmed to 100 characters: for searching and for echoing."""
    return strip_control(q or "").strip()[:100]


def normalise_query(q: str) -> str:
    q = clean_query(q)
    if identity.looks_like_digits(q):
        digits = "".join(ch for ch in q if ch.isdigit())
        if q.startswith("+86") or (q.startswith("86") and len(digits) > 11):
            digits = digits[2:]
        return digits
    return q.lower()


def _filters(scope: Scope, q: str, tag_id: int | None, lifecycle: str | None,
             extra: tuple[str, list] | None) -> tuple[str, list[str], list, str]:
    """FROM, the conditions, their arguments and the id column to order by."""
    q = normalise_query(q)
    scope_sql, args = scope.clause("c")
    where = [scope_sql]
    source = "customer c"
    order = "c.id"
    if q and len(q) >= 3:
        if is_sqlite():
            source = "customer_search s JOIN customer c ON c.id = s.rowid"
            where.append("customer_search MATCH {}")
            args.append('"' + q.replace('"', '""') + '"')
            order = "s.rowid"
        else:
            where.append("c.search_text LIKE {} ESCAPE '\\'")
            args.append("%" + like_escape(q) + "%")
    elif q:  # one or two characters: the name-prefix indexes, already in id order
        where.append(f"lower(substr(c.name, 1, {len(q)})) = {{}}")
        args.append(q)
    if tag_id:
        if not q:
            source = "customer_tag ct JOIN customer c ON c.id = ct.customer"
            where.append("ct.tag = {}")
            order = "ct.customer"
        else:
            where.append("EXISTS (SELECT 1 FROM customer_tag ct WHERE ct.customer = c.id AND ct.tag = {})")
        args.append(tag_id)
    if lifecycle in LIFECYCLE_STAGES:
        where.append("c.lifecycle_stage = {}")
        args.append(lifecycle)
    if extra is not None:
        where.append(f"({extra[0]})")
        args.extend(extra[1])
    return source, where, args, order


async def count_customers(scope: Scope, q: str = "", tag_id: int | None = None,
                          lifecycle: str | None = None,
                          extra: tuple[str, list] | None = None) -> int:
    """How many customers search_customers would list in all (its pages together)."""
    source, where, args, _ = _filters(scope, q, tag_id, lifecycle, extra)
    rows = await raw(f"SELECT COUNT(*) AS n FROM {source} WHERE {' AND '.join(where)}", *args)
    return int(rows[0]["n"] or 0)


async def search_customers(
    scope: Scope,
    q: str = "",
    tag_id: int | None = None,
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
    lifecycle: str | None = None,
    extra: tuple[str, list] | None = None,
) -> tuple[list[dict], int | None]:
    """A page of customers, newest first, and the cursor for the next page (or None).

    Text of three or more characters is matched anywhere in the name, the mobile's digits or
    the e-mail through the substring index; shorter text matches the start of the name.
    `lifecycle` (one of LIFECYCLE_STAGES; anything else is ignored) keeps one stage, off the
    (lifecycle_stage, id) index when it is the only filter. `extra` is a further condition on
    customer `c` with `{}` placeholders and its arguments (the dashboard's figures give one:
    db/figures/drill.py).
    """
    source, where, args, order = _filters(scope, q, tag_id, lifecycle, extra)
    q = normalise_query(q)
    if before_id:
        where.append(f"{order} < {{}}")
        args.append(before_id)
    sql = (
        "SELECT c.id, c.name, c.mobile, c.province, c.city, c.first_channel, c.owner, "
        "c.lifecycle_stage, c.last_order_at "
        f"FROM {source} WHERE {' AND '.join(where)} ORDER BY {order} DESC LIMIT {limit + 1}"
    )
    async with reading():
        rows = await raw(sql, *args)
        rows, more = rows[:limit], len(rows) > limit
        tags = await tags_for([r["id"] for r in rows])
    digits = q if q.isdigit() else ""
    for row in rows:
        row["tags"] = tags.get(row["id"], [])
        row["mobile_masked"] = masked = identity.mask_mobile(row["mobile"])
        # Digits found in the hidden middle of the mobile: the row says so, or it looks wrong.
        row["matched_digits"] = digits if digits and digits in (row["mobile"] or "") \
            and digits not in masked else ""
        row["last_order_at"] = as_datetime(row["last_order_at"])
    return rows, (rows[-1]["id"] if more and rows else None)
