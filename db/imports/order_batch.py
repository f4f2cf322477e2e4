"""A batch of order rows written set-based, idempotent on (channel, external_id) like the
API's ingest: a row already stored only changes its status; a new order finds its customer by
mobile, else e-mail, or creates one."""

from __future__ import annotations

from db.clock import now
from db.engine import in_list, raw
from db.imports.batch import INSERT_CHUNK, BatchResult, Importer, rows_source
from db.imports.customer_batch import existing_customers, insert_customers
from db.imports.rows import Context, default_name
from db.orders.ingest import OrderInput


async def write_orders(ctx: Context, parsed: list[tuple[list, OrderInput]],
                        who: Importer, result: BatchResult) -> None:
    ids = sorted({rec.external_id for _, rec in parsed})
    existing: dict[tuple[str, str], dict] = {}
    for start in range(0, len(ids), INSERT_CHUNK):
        chunk = ids[start:start + INSERT_CHUNK]
        where, args = in_list("o.external_id", chunk, "text")
        rows = await raw(
            'SELECT o.id, o.channel, o.external_id, o.status, o.customer, c.owner, c.team '
            f'FROM "order" o JOIN customer c ON c.id = o.customer WHERE {where}',
            *args,
        )
        for row in rows:
            existing[(row["channel"], row["external_id"])] = row
    customers = await existing_customers(
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
    await insert_customers(new_customers, who.team_id)
    stamp = now()
    writes = []
    for (channel, external_id), entry in seen.items():
        if not entry.get("changed"):
            continue
        if entry.get("new"):
            rec: OrderInput = entry["record"]
            customer_id = entry["customer"]["id"]
            writes.append([channel, external_id, customer_id, rec.placed_at, entry["status"],
                           rec.total_fen, stamp, stamp])
        else:  # a status change of an order already stored
            customer_id = entry["customer"]
            writes.append([channel, external_id, customer_id, stamp, entry["status"], 0, stamp, stamp])
        result.affected.add(customer_id)
    for start in range(0, len(writes), INSERT_CHUNK):
        chunk = writes[start:start + INSERT_CHUNK]
        source, args = rows_source(chunk, ("text", "text", "integer", "timestamptz", "text", "bigint",
                                            "timestamptz", "timestamptz"))
        rows = await raw(
            'INSERT INTO "order" (channel, external_id, customer, placed_at, status, total_fen, '
            f"created_at, updated_at) {source} "
            "ON CONFLICT (channel, external_id) DO UPDATE SET status = excluded.status, "
            'updated_at = excluded.updated_at WHERE "order".status <> excluded.status RETURNING id',
            *args,
        )
        result.order_ids.extend(row["id"] for row in rows)
