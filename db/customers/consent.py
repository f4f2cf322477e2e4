"""Consent to marketing, for every customer (issue 14; design 1.1).

Two tables (db/customers/tables.py): `customer_consent`, the log, one row for every answer
recorded, never changed; and `customer_consent_state`, the current answer per customer and
channel (UNIQUE (customer, channel)). `record` writes both in one transaction: the state by an
upsert whose later `at` wins, so two records at once (two processes, two engines) leave the
state equal to the latest row of the log. Audiences and send-time checks read only the state.

Members' consent (the member page, joining) goes through here too: db/members/membership's
`set_consent` and `consents` are wrappers for the member's customer. Callers audit.
"""

from __future__ import annotations

import datetime as dt

from db.audit.log import record as audit
from db.clock import now
from db.customers.tables import CONSENT_CHANNELS, CONSENT_SOURCES
from db.engine import as_datetime, is_sqlite, raw, writing
from db.errors import NotFound, ValidationFailed
from db.text import has_control

DETAIL_MAX = 60
ACTOR_MAX = 80

_UPSERT = (
    "INSERT INTO customer_consent_state (customer, channel, granted, source, at) "
    "VALUES ({}, {}, {}, {}, {}) "
    "ON CONFLICT (customer, channel) DO UPDATE SET granted = excluded.granted, "
    "source = excluded.source, at = excluded.at "
    "WHERE excluded.at >= customer_consent_state.at"
)


def _answer_errors(channel, granted) -> dict[str, str]:
    errors = {}
    if channel not in CONSENT_CHANNELS:
        errors["channel"] = f"one of {', '.join(CONSENT_CHANNELS)}"
    if not isinstance(granted, bool):
        errors["granted"] = "true or false"
    return errors


def _row(row: dict) -> dict:
    return {"granted": bool(row["granted"]), "source": row["source"], "at": as_datetime(row["at"])}


async def record(customer_id: int, channel: str, granted: bool, source: str, actor_label: str, *,
                 detail: str = "", at: dt.datetime | None = None) -> dict:
    """Record one answer; returns it as the log holds it: {"id", "customer_id", "channel",
    "granted", "source", "detail", "actor", "at"}. NotFound for an unknown customer;
    ValidationFailed for a channel or source outside the lists."""
    errors = _answer_errors(channel, granted)
    if source not in CONSENT_SOURCES:
        errors["source"] = f"one of {', '.join(CONSENT_SOURCES)}"
    if errors:
        raise ValidationFailed(errors)
    detail = (detail or "")[:DETAIL_MAX]
    actor = (actor_label or "")[:ACTOR_MAX]
    async with writing():
        # PostgreSQL: wait for a merge of this customer (it holds the row FOR UPDATE), then
        # find the merged one gone (a 404, not a foreign-key error) or the survivor folded.
        lock = "" if is_sqlite() else " FOR KEY SHARE"
        if not await raw(f"SELECT id FROM customer WHERE id = {{}}{lock}", customer_id):
            raise NotFound()
        stamp = (at or now()).astimezone(dt.timezone.utc)
        rows = await raw(
            "INSERT INTO customer_consent (customer, channel, granted, source, detail, actor, at) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}) RETURNING id",
            customer_id, channel, granted, source, detail, actor, stamp)
        await raw(_UPSERT, customer_id, channel, granted, source, stamp)
    return {"id": rows[0]["id"], "customer_id": customer_id, "channel": channel,
            "granted": granted, "source": source, "detail": detail, "actor": actor, "at": stamp}


async def record_by(actor, customer_id: int, channel, granted, source: str, *, detail="") -> dict:
    """`record` for staff and API callers, audited ("customer.consent") in its transaction."""
    async with writing():
        got = await record(customer_id, channel, granted, source, actor.label, detail=detail)
        await audit("customer.consent", actor_id=actor.id, actor=actor.label, target_type="customer",
                    target_id=customer_id, ip=actor.ip,
                    detail={"channel": channel, "granted": granted, "source": source,
                            "detail": got["detail"]})
    return got


def parse_api(data: dict) -> tuple[str, bool, str]:
    """The API's body {"channel", "granted", "source"} -> (channel, granted, source text), or
    ValidationFailed with a message per field. `source` is the caller's own words (where the
    customer said so: "app signup"), kept as the log row's detail."""
    channel, granted, source = data.get("channel"), data.get("granted"), data.get("source")
    errors = _answer_errors(channel, granted)
    if not isinstance(source, str) or not source.strip():
        errors["source"] = "required: where the customer gave or withdrew consent"
    elif len(source.strip()) > DETAIL_MAX:
        errors["source"] = f"at most {DETAIL_MAX} characters"
    elif has_control(source):
        errors["source"] = "no control characters"
    if errors:
        raise ValidationFailed(errors)
    return channel, granted, source.strip()


def consent_json(row: dict) -> dict:
    return {"id": row["id"], "customer_id": row["customer_id"], "channel": row["channel"],
            "granted": row["granted"], "source": row["detail"], "recorded_via": row["source"],
            "at": row["at"].isoformat()}


async def current(customer_ids) -> dict[int, dict[str, dict]]:
    """The current answers: {customer id: {channel: {"granted", "source", "at"}}}; a customer
    with no answer at all is absent, a channel never answered is absent."""
    ids = sorted({int(i) for i in customer_ids})
    out: dict[int, dict[str, dict]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("{}" for _ in chunk)
        rows = await raw(
            "SELECT customer, channel, granted, source, at FROM customer_consent_state "
            f"WHERE customer IN ({marks})", *chunk)
        for row in rows:
            out.setdefault(row["customer"], {})[row["channel"]] = _row(row)
    return out


async def history(customer_id: int, limit: int = 50) -> list[dict]:
    """The customer's log, newest first."""
    rows = await raw(
        "SELECT id, channel, granted, source, detail, actor, at FROM customer_consent "
        "WHERE customer = {} ORDER BY at DESC, id DESC LIMIT {}", customer_id, limit)
    return [{**r, "granted": bool(r["granted"]), "at": as_datetime(r["at"])} for r in rows]


async def fold(survivor_id: int, merged_id: int, actor_label: str = "") -> None:
    """For a merge, in its transaction and before the merged customer goes: the survivor's
    current answer per channel from both sides. A withdrawal on either side wins (the two are
    one person, and one of their records says no); otherwise the later answer. When the
    winner is not the later of the two (an earlier withdrawal beats a later grant), a log row
    (source "merge", detail "merged:ID") says so, so the log's latest row per channel still
    agrees with the state. The log rows themselves move with
    merge.CUSTOMER_REFERENCES; the merged customer's state rows are deleted here."""
    both = await current([survivor_id, merged_id])
    mine, theirs = both.get(survivor_id, {}), both.get(merged_id, {})
    async with writing():
        for channel in CONSENT_CHANNELS:
            a, b = mine.get(channel), theirs.get(channel)
            if b is None:
                continue
            if a is None:
                winner = b
            elif not a["granted"] or not b["granted"]:
                winner = a if not a["granted"] else b
            else:
                winner = a if a["at"] >= b["at"] else b
            loser = b if winner is a else a
            if loser is None or winner["at"] >= loser["at"]:
                # the winner is also the latest row of the two logs together: the state is it
                if winner is not a:
                    await raw(_UPSERT, survivor_id, channel, winner["granted"], winner["source"],
                              winner["at"])
                continue
            # an earlier withdrawal beats a later grant: a new row, so the log says so too
            stamp = max(now(), loser["at"])
            await raw(
                "INSERT INTO customer_consent (customer, channel, granted, source, detail, actor, at) "
                "VALUES ({}, {}, {}, 'merge', {}, {}, {})",
                survivor_id, channel, winner["granted"], f"merged:{merged_id}"[:DETAIL_MAX],
                (actor_label or "")[:ACTOR_MAX], stamp)
            await raw(_UPSERT, survivor_id, channel, winner["granted"], "merge", stamp)
        await raw("DELETE FROM customer_consent_state WHERE customer = {}", merged_id)
