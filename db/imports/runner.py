"""The batch runner: a job's file, BATCH_ROWS rows per write transaction, set-based.

Each batch is parsed in Python first, then written in one `writing()` transaction: one
SELECT of the identities it names (IN lists), multi-row INSERT ... ON CONFLICT for new and
changed rows, the lifecycle refresh of the customers it touched, and the job's progress
(rows done, counts, the size of the rejected-rows file) in the same transaction. A process
killed halfway therefore leaves whole batches only, and `run_job` on the same job continues
after the last committed batch; re-importing the file from the start changes nothing that
is already there (customers upsert by mobile, else e-mail; orders on (channel, external_id)).
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from db.clock import now
from db.customers import identity
from db.customers.scope import Scope
from db.engine import as_date, in_list, is_sqlite, is_unique_violation, raw, writing
from db.imports import reader
from db.imports.rows import Context, CustomerRecord, OrderRecord, default_name, neutralise, parse_row, reason

log = logging.getLogger("crm.imports")

BATCH_ROWS = 1_000
INSERT_CHUNK = 500  # rows per multi-row INSERT (parameters stay far below both engines' limits)
REASON_HEADER = "原因/reason"
PROFILE_FIELDS = ("gender", "birthday", "province", "city", "address")


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: "Counts") -> None:
        for name in ("created", "updated", "unchanged", "rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Importer:
    """Who runs the import: the scope existing customers must be in, and the team new
    customers get (a manager's team; none for an admin or the command line)."""

    scope: Scope
    team_id: int | None
    actor_id: int | None = None
    actor: str = "cli"


@dataclass
class BatchResult:
    counts: Counts = field(default_factory=Counts)
    rejects: list[tuple[list, str]] = field(default_factory=list)  # (cells, reason)
    affected: set[int] = field(default_factory=set)
    order_ids: list[int] = field(default_factory=list)  # orders written or changed


def _marks(n: int) -> str:
    return ", ".join("{}" for _ in range(n))


def _rows_source(rows: list[list], types: tuple[str, ...]) -> tuple[str, list]:
    """The rows as an INSERT's source: one array per column through unnest() on PostgreSQL
    (a short statement, planned fast, whatever the batch size), VALUES lists on SQLite."""
    if is_sqlite():
        group = "(" + _marks(len(types)) + ")"
        return "VALUES " + ", ".join(group for _ in rows), [v for row in rows for v in row]
    arrays = ", ".join(f"{{}}::{t}[]" for t in types)
    return f"SELECT * FROM unnest({arrays})", [list(column) for column in zip(*rows)]


def _in(column: str, items: list, pg_type: str = "text") -> tuple[str, list]:
    return in_list(column, items, pg_type)


# ---------------------------------------------------------------- customers


async def _existing_customers(mobiles: set[str], emails: set[str]) -> list[dict]:
    where, args = [], []
    for column, items in (("mobile", mobiles), ("email", emails)):
        if items:
            sql, more = _in(column, sorted(items))
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


async def _insert_customers(records: list[dict], team_id: int | None, first_channel: str = "") -> None:
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
        source, args = _rows_source(rows, ("text",) * 4 + ("date",) + ("text",) * 4 + ("integer", "text")
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
        source, args = _rows_source(rows, ("integer",) + ("text",) * 4 + ("date",) + ("text",) * 4
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
        where, args = _in("customer", chunk, "integer")
        rows = await raw(f"SELECT customer, field, value FROM customer_field_value WHERE {where}", *args)
        for row in rows:
            out.setdefault(row["customer"], {})[row["field"]] = row["value"]
    return out


async def _write_custom_values(values: dict[tuple[int, int], str]) -> None:
    items = [[c, f, v] for (c, f), v in values.items()]
    for start in range(0, len(items), INSERT_CHUNK):
        chunk = items[start:start + INSERT_CHUNK]
        source, args = _rows_source(chunk, ("integer", "integer", "text"))
        await raw(
            f"INSERT INTO customer_field_value (customer, field, value) {source} "
            "ON CONFLICT (customer, field) DO UPDATE SET value = excluded.value",
            *args,
        )


async def _customers_batch(ctx: Context, parsed: list[tuple[list, CustomerRecord]],
                           who: Importer, result: BatchResult) -> None:
    existing = await _existing_customers(
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
    await _insert_customers(created, who.team_id)
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


# ---------------------------------------------------------------- orders


async def _orders_batch(ctx: Context, parsed: list[tuple[list, OrderRecord]],
                        who: Importer, result: BatchResult) -> None:
    ids = sorted({rec.external_id for _, rec in parsed})
    existing: dict[tuple[str, str], dict] = {}
    for start in range(0, len(ids), INSERT_CHUNK):
        chunk = ids[start:start + INSERT_CHUNK]
        where, args = _in("o.external_id", chunk)
        rows = await raw(
            'SELECT o.id, o.channel, o.external_id, o.status, o.customer, c.owner, c.team '
            f'FROM "order" o JOIN customer c ON c.id = o.customer WHERE {where}',
            *args,
        )
        for row in rows:
            existing[(row["channel"], row["external_id"])] = row
    customers = await _existing_customers(
        {r.mobile for _, r in parsed if r.mobile}, {r.email for _, r in parsed if r.email}
    )
    by_mobile = {row["mobile"]: row for row in customers if row["mobile"]}
    by_email = {row["email"]: row for row in customers if row["email"]}
    seen: dict[tuple[str, str], dict] = {}  # orders of this batch, by key: the last word wins
    new_customers: list[dict] = []
    for cells, rec in parsed:
        key = (rec.channel, rec.external_id)
        before = seen.get(key) or existing.get(key)
        if before is not None:
            if not who.scope.allows(before.get("owner"), before.get("team")) and not before.get("new_customer"):
                result.rejects.append((cells, "this order belongs to a customer outside your team"))
                continue
            if before["status"] == rec.status:
                result.counts.unchanged += 1
                continue
            before["status"] = rec.status
            before["changed"] = True
            seen[key] = before
            result.counts.updated += 1
            continue
        customer = by_mobile.get(rec.mobile) if rec.mobile else None
        if customer is None and rec.email:
            customer = by_email.get(rec.email)
        if customer is None:
            customer = {"name": rec.name or default_name(rec.mobile, rec.email), "mobile": rec.mobile,
                        "email": rec.email, "first_channel": rec.channel, "new": True,
                        "owner": None, "team": who.team_id}
            new_customers.append(customer)
            if rec.mobile:
                by_mobile[rec.mobile] = customer
            if rec.email:
                by_email[rec.email] = customer
        elif not customer.get("new") and not who.scope.allows(customer["owner"], customer["team"]):
            result.rejects.append((cells, "the customer of this order is outside your team"))
            continue
        seen[key] = {"record": rec, "customer": customer, "status": rec.status, "new": True,
                     "new_customer": customer.get("new", False), "changed": True,
                     "owner": customer["owner"], "team": customer["team"]}
        result.counts.created += 1
    await _insert_customers(new_customers, who.team_id)
    stamp = now()
    writes = []
    for (channel, external_id), entry in seen.items():
        if not entry.get("changed"):
            continue
        if entry.get("new"):
            rec: OrderRecord = entry["record"]
            customer_id = entry["customer"]["id"]
            writes.append([channel, external_id, customer_id, rec.placed_at, entry["status"],
                           rec.total_fen, stamp, stamp])
        else:  # a status change of an order already stored
            customer_id = entry["customer"]
            writes.append([channel, external_id, customer_id, stamp, entry["status"], 0, stamp, stamp])
        result.affected.add(customer_id)
    for start in range(0, len(writes), INSERT_CHUNK):
        chunk = writes[start:start + INSERT_CHUNK]
        source, args = _rows_source(chunk, ("text", "text", "integer", "timestamptz", "text", "bigint",
                                            "timestamptz", "timestamptz"))
        rows = await raw(
            'INSERT INTO "order" (channel, external_id, customer, placed_at, status, total_fen, '
            f"created_at, updated_at) {source} "
            "ON CONFLICT (channel, external_id) DO UPDATE SET status = excluded.status, "
            'updated_at = excluded.updated_at WHERE "order".status <> excluded.status RETURNING id',
            *args,
        )
        result.order_ids.extend(row["id"] for row in rows)


# ---------------------------------------------------------------- one batch


async def run_batch(ctx: Context, batch: list[list], who: Importer) -> BatchResult:
    """Parse and write one batch; the caller holds the write transaction."""
    from db.customers.lifecycle import refresh_customers

    result = BatchResult()
    parsed = []
    for cells in batch:
        record, errors = parse_row(ctx, cells)
        if errors:
            result.rejects.append((cells, reason(ctx, errors)))
        else:
            parsed.append((cells, record))
    if parsed:
        if ctx.kind == "customers":
            await _customers_batch(ctx, parsed, who, result)
        else:
            await _orders_batch(ctx, parsed, who, result)
    result.counts.rejected = len(result.rejects)
    if result.affected:
        await refresh_customers(sorted(result.affected))
    if result.order_ids:
        from db.actor import Actor
        from db.members.earning import settle_orders

        await settle_orders(result.order_ids, Actor(who.actor_id, f"import:{who.actor}"))
    return result


# ---------------------------------------------------------------- the rejected-rows file


class RejectsFile:
    """CSV (UTF-8 with BOM, so Excel opens it) of rejected rows: their cells and the reason.
    Its size is stored with each batch's progress, so a resumed job cuts off lines written
    by a batch that never committed."""

    def __init__(self, path: Path, headers: list[str], keep_bytes: int):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = keep_bytes <= 0 or not path.exists()
        self.fh = open(path, "w" if fresh else "r+", encoding="utf-8-sig" if fresh else "utf-8",
                       newline="")
        if fresh:
            csv.writer(self.fh).writerow([neutralise(h) for h in headers] + [REASON_HEADER])
        else:
            self.fh.seek(keep_bytes)
            self.fh.truncate()
        self.width = len(headers)
        self.fh.flush()

    def write(self, rejects: list[tuple[list, str]]) -> int:
        writer = csv.writer(self.fh)
        for cells, why in rejects:
            cells = list(cells[: self.width]) + [""] * (self.width - len(cells))
            writer.writerow([neutralise(c) for c in cells] + [why])
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return self.fh.tell()

    def cut(self, size: int) -> None:
        self.fh.seek(size)
        self.fh.truncate()

    def close(self) -> None:
        self.fh.close()


def rows_after(path: Path, file_format: str, encoding: str, skip: int):
    for index, cells in enumerate(reader.iter_rows(path, file_format, encoding)):
        if index >= skip:
            yield cells


def options_of(job: dict) -> dict:
    options = job.get("options") or {}
    return dict(options) if isinstance(options, dict) else json.loads(options)


async def process_file(job: dict, ctx: Context, who: Importer, on_batch=None) -> Counts:
    """Run a job's file from its last committed batch to the end (see the module doc)."""
    from db.imports.tables import ImportJob

    options = options_of(job)
    rejects = RejectsFile(Path(job["rejects_path"]), ctx.headers, int(options.get("rejects_bytes", 0)))
    if not options.get("rejects_bytes"):
        options["rejects_bytes"] = rejects.fh.tell()  # just the header line
    totals = Counts(job["created"], job["updated"], job["unchanged"], job["rejected"])
    processed = job["processed"]
    upcoming: asyncio.Future = asyncio.get_running_loop().create_future()
    upcoming.set_result([])
    try:
        rows = rows_after(Path(job["path"]), job["file_format"], job["encoding"], processed)

        def take() -> list[list]:
            return list(itertools.islice(rows, BATCH_ROWS))

        # The next batch is read in a thread while this one is written (SQLite and the
        # network wait release the GIL), one read at a time.
        upcoming = asyncio.ensure_future(asyncio.to_thread(take))
        while True:
            batch = await upcoming
            if not batch:
                break
            upcoming = asyncio.ensure_future(asyncio.to_thread(take))
            kept = int(options.get("rejects_bytes", 0))
            for attempt in range(3):
                try:
                    async with writing():
                        result = await run_batch(ctx, batch, who)
                        size = rejects.write(result.rejects)
                        options["rejects_bytes"] = size
                        done = Counts(**vars(totals))
                        done.add(result.counts)
                        await ImportJob.update({
                            ImportJob.processed: processed + len(batch),
                            ImportJob.created: done.created, ImportJob.updated: done.updated,
                            ImportJob.unchanged: done.unchanged, ImportJob.rejected: done.rejected,
                            ImportJob.options: json.dumps(options), ImportJob.heartbeat_at: now(),
                        }).where(ImportJob.id == job["id"])
                    break
                except Exception as exc:  # rolled back: so are this batch's rejected lines
                    options["rejects_bytes"] = kept
                    rejects.cut(kept)
                    if not is_unique_violation(exc) or attempt == 2:
                        raise  # a concurrent writer took an identity: read the batch again
            totals = done
            processed += len(batch)
            if on_batch:
                on_batch(processed)
    finally:
        if not upcoming.done():  # stopped by an error: let the read in flight finish first
            await asyncio.wait([upcoming])
        if not upcoming.cancelled():
            upcoming.exception()  # retrieved: the error that matters is the one raised here
        rejects.close()
    return totals
