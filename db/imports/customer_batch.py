"""A batch of customer rows written set-based: one SELECT of the identities it names, then
multi-row INSERTs of new customers and upserts of changed profiles and custom field values.
Customers are matched by mobile, else e-mail; a row outside the importer's scope is rejected."""

from __future__ import annotations

from db.clock import now
from db.customers import identity
from db.engine import as_date, in_list, raw
from db.imports.batch import INSERT_CHUNK, BatchResult, Importer, rows_source
from db.imports.rows import Context, CustomerRecord

PROFILE_FIELDS = ("gender", "birthday", "province", "city", "address")


async def existing_customers(mobiles: set[str], emails: set[str]) -> list[dict]:
    where, args = [], []
    for column, items in (("mobile", mobiles), ("email", emails)):
        if items:
            sql, more = in_list(column, sorted(items), "text")
            where.append(sql)
            args += more
    if not where:
        return []
    rows = await raw(
        "SELECT id, name, mobile, email, gender, birthday, province, city, address, owner, team, "
        f"created_at FROM customer WHERE {' OR '.join(where)}",
        *args,
    )
    for row in rows:
        row["birthday"] = as_date(row["birthday"])
    return rows


async def insert_customers(records: list[dict], team_id: int | None, first_channel: str = "") -> None:
    """Insert new customers (dicts with the profile) and set each dict's "id"."""
    stamp = now()
    for start in range(0, len(records), INSERT_CHUNK):
        chunk = records[start:start + INSERT_CHUNK]
        rows = [
            [r["name"], r["mobile"], r["email"], r.get("gender") or "unknown", r.get("birthday"),
             r.get("province", ""), r.get("city", ""), r.get("address", ""),
             r.get("first_channel", first_channel), team_id,
             identity.search_text(r["name"], r["mobile"], r["email"]), stamp, stamp]
            for r in chunk
        ]
        source, args = rows_source(rows, ("text",) * 4 + ("date",) + ("text",) * 4 + ("integer", "text")
                                    + ("timestamptz",) * 2)
        inserted = await raw(
            "INSERT INTO customer (name, mobile, email, gender, birthday, province, city, address, "
            f"first_channel, team, search_text, created_at, updated_at) {source} "
            "RETURNING id, mobile, email",
            *args,
        )
        by_mobile = {r["mobile"]: r["id"] for r in inserted if r["mobile"]}
        by_email = {r["email"]: r["id"] for r in inserted if r["email"]}
        for record in chunk:
            record["id"] = by_mobile.get(record["mobile"]) or by_email[record["email"]]


async def _update_customers(records: list[dict]) -> None:
    """Write changed profiles of existing customers: one upsert on the primary key per chunk."""
    stamp = now()
    for start in range(0, len(records), INSERT_CHUNK):
        chunk = records[start:start + INSERT_CHUNK]
        rows = [
            [r["id"], r["name"], r["mobile"], r["email"], r["gender"], r["birthday"], r["province"],
             r["city"], r["address"], identity.search_text(r["name"], r["mobile"], r["email"]),
             r["created_at"], stamp]
            for r in chunk
        ]
        source, args = rows_source(rows, ("integer",) + ("text",) * 4 + ("date",) + ("text",) * 4
                                    + ("timestamptz",) * 2)
        await raw(
            "INSERT INTO customer (id, name, mobile, email, gender, birthday, province, city, "
            f"address, search_text, created_at, updated_at) {source} "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, mobile = excluded.mobile, "
            "email = excluded.email, gender = excluded.gender, birthday = excluded.birthday, "
            "province = excluded.province, city = excluded.city, address = excluded.address, "
            "search_text = excluded.search_text, updated_at = excluded.updated_at",
            *args,
        )


async def _custom_values(customer_ids: list[int]) -> dict[int, dict[int, str]]:
    out: dict[int, dict[int, str]] = {}
    for start in range(0, len(customer_ids), INSERT_CHUNK):
        chunk = customer_ids[start:start + INSERT_CHUNK]
        where, args = in_list("customer", chunk, "integer")
        rows = await raw(f"SELECT customer, field, value FROM customer_field_value WHERE {where}", *args)
        for row in rows:
            out.setdefault(row["customer"], {})[row["field"]] = row["value"]
    return out


async def _write_custom_values(values: dict[tuple[int, int], str]) -> None:
    items = [[c, f, v] for (c, f), v in values.items()]
    for start in range(0, len(items), INSERT_CHUNK):
        chunk = items[start:start + INSERT_CHUNK]
        source, args = rows_source(chunk, ("integer", "integer", "text"))
        await raw(
            f"INSERT INTO customer_field_value (customer, field, value) {source} "
            "ON CONFLICT (customer, field) DO UPDATE SET value = excluded.value",
            *args,
        )


async def write_customers(ctx: Context, parsed: list[tuple[list, CustomerRecord]],
                           who: Importer, result: BatchResult) -> None:
    existing = await existing_customers(
        {r.mobile for _, r in parsed if r.mobile}, {r.email for _, r in parsed if r.email}
    )
    by_mobile = {row["mobile"]: row for row in existing if row["mobile"]}
    by_email = {row["email"]: row for row in existing if row["email"]}
    field_ids = {key: f["id"] for key, f in ctx.custom_fields.items()}
    custom_now = await _custom_values([row["id"] for row in existing]) if field_ids else {}
    for row in existing:
        row["custom"] = custom_now.get(row["id"], {})
    for row in existing:
        row["original"] = _profile(row)
    created: list[dict] = []
    touched: dict[int, tuple[dict, int]] = {}  # id(existing record) -> (record, rows updating it)
    for cells, rec in parsed:
        target = by_mobile.get(rec.mobile) if rec.mobile else None
        if target is None and rec.email:
            target = by_email.get(rec.email)
        if target is not None:
            other = by_email.get(rec.email) if rec.email else None
            if other is not None and other is not target:
                result.rejects.append((cells, f"{ctx.header_of('email')}: belongs to another customer"))
                continue
            if not target.get("new") and not who.scope.allows(target["owner"], target["team"]):
                result.rejects.append((cells, "a customer with this mobile or e-mail already exists "
                                              "outside your team"))
                continue
        if target is None:
            record = {"name": rec.name, "mobile": rec.mobile, "email": rec.email, "new": True,
                      "gender": "unknown", "birthday": None, "province": "", "city": "", "address": "",
                      **rec.fields, "custom": {field_ids[k]: v for k, v in rec.custom.items()}}
            created.append(record)
            if rec.mobile:
                by_mobile[rec.mobile] = record
            if rec.email:
                by_email[rec.email] = record
            result.counts.created += 1
            continue
        changes = {"name": rec.name, "mobile": rec.mobile, "email": rec.email, **rec.fields}
        changes = {k: v for k, v in changes.items() if v not in (None, "") and target.get(k) != v}
        custom_changes = {field_ids[k]: v for k, v in rec.custom.items()
                          if target["custom"].get(field_ids[k]) != v}
        if not changes and not custom_changes:
            result.counts.unchanged += 1
            continue
        if "email" in changes and target["email"]:
            by_email.pop(target["email"], None)
        if "mobile" in changes and target["mobile"]:
            by_mobile.pop(target["mobile"], None)
        target.update(changes)
        target["custom"].update(custom_changes)
        if target.get("mobile"):
            by_mobile[target["mobile"]] = target
        if target.get("email"):
            by_email[target["email"]] = target
        result.counts.updated += 1
        if not target.get("new"):
            record, n = touched.get(id(target), (target, 0))
            touched[id(target)] = (record, n + 1)
    dirty, custom_writes = [], {}
    for record, n in touched.values():
        if _profile(record) == record["original"]:
            # the file's rows for this person end where the database already is (a file
            # imported again whose later rows update earlier ones): nothing to write
            result.counts.updated -= n
            result.counts.unchanged += n
            continue
        before = record["original"]
        if {k: v for k, v in _profile(record).items() if k != "custom"} != \
                {k: v for k, v in before.items() if k != "custom"}:
            dirty.append(record)
        for field_id, value in record["custom"].items():
            if before["custom"].get(field_id) != value:
                custom_writes[(record["id"], field_id)] = value
    await insert_customers(created, who.team_id)
    for record in created:
        for field_id, value in record["custom"].items():
            custom_writes[(record["id"], field_id)] = value
    await _update_customers(dirty)
    if custom_writes:
        await _write_custom_values(custom_writes)
    result.affected.update(r["id"] for r in created)
    result.affected.update(r["id"] for r in dirty)
    result.affected.update(c for c, _ in custom_writes)


def _profile(record: dict) -> dict:
    keys = ("name", "mobile", "email") + PROFILE_FIELDS
    return {**{k: record.get(k) for k in keys}, "custom": dict(record.get("custom") or {})}
