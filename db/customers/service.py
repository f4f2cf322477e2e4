"""Customers: validation, upsert by identity, scoped search and the customer page's data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from db.audit.log import record
from db.clock import SHOP_TZ, now
from db.customers import fields, identity
from db.money import format_fen
from db.customers.scope import Scope
from db.customers.tables import (
    GENDERS,
    INTERACTION_KINDS,
    INTERACTION_OUTCOMES,
    LIFECYCLE_STAGES,
    Customer,
    CustomerTag,
    Interaction,
    Tag,
)
from db.engine import as_datetime, is_sqlite, is_unique_violation, like_escape, raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.text import strip_control

GENDER_ALIASES = {
    "f": "female", "female": "female", "女": "female", "w": "female",
    "m": "male", "male": "male", "男": "male",
    "u": "unknown", "unknown": "unknown", "": "unknown", "未知": "unknown",
}
PAGE_SIZE = 20
# The log form starts on the kind this person logged last; before their first, on a visit:
# field staff log visits on their phones, and a call placed from the card is one tap anyway.
FIRST_KIND = "visit"
MAX_TAGS = 20


@dataclass
class Actor:
    """Who is making a change, for the audit log."""

    id: int | None
    label: str
    ip: str = ""


@dataclass
class CustomerInput:
    name: str
    mobile: str | None
    email: str | None
    gender: str = "unknown"
    birthday: dt.date | None = None
    province: str = ""
    city: str = ""
    tags: list[str] = field(default_factory=list)
    first_channel: str = ""
    provided: frozenset[str] = frozenset()


def _text(data: dict, key: str, errors: dict, max_len: int, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[key] = "must be text"
        return ""
    value = value.strip()
    if required and not value:
        errors[key] = "required"
    elif len(value) > max_len:
        errors[key] = f"at most {max_len} characters"
    return value


def parse_customer(data: dict[str, Any], require_identity: bool = True) -> CustomerInput:
    """Validate customer fields, collecting one message per bad field."""
    errors: dict[str, str] = {}
    name = _text(data, "name", errors, 100, required=True)
    mobile = email = None
    try:
        mobile = identity.normalise_mobile(_text(data, "mobile", errors, 30))
    except identity.InvalidIdentity as exc:
        errors["mobile"] = str(exc)
    try:
        email = identity.normalise_email(_text(data, "email", errors, 254))
    except identity.InvalidIdentity as exc:
        errors["email"] = str(exc)
    if require_identity and not mobile and not email and "mobile" not in errors and "email" not in errors:
        errors["mobile"] = "a mobile number or an e-mail address is required"
    gender_raw = _text(data, "gender", errors, 10).lower()
    gender = GENDER_ALIASES.get(gender_raw)
    if gender is None:
        errors["gender"] = f"one of {', '.join(GENDERS)}"
    birthday = None
    birthday_raw = _text(data, "birthday", errors, 10)
    if birthday_raw:
        try:
            birthday = dt.date.fromisoformat(birthday_raw)
            if birthday > dt.date.today() or birthday.year < 1900:
                errors["birthday"] = "not a plausible birthday"
        except ValueError:
            errors["birthday"] = "a date like 1990-05-17"
    province = _text(data, "province", errors, 20)
    city = _text(data, "city", errors, 40)
    tags_raw = data.get("tags") or []
    tags: list[str] = []
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        errors["tags"] = "a list of tag names"
    else:
        tags = list(dict.fromkeys(t.strip() for t in tags_raw if t.strip()))
        if len(tags) > MAX_TAGS or any(len(t) > 40 for t in tags):
            errors["tags"] = f"at most {MAX_TAGS} tags of up to 40 characters"
    if errors:
        raise ValidationFailed(errors)
    return CustomerInput(
        name=name, mobile=mobile, email=email, gender=gender or "unknown", birthday=birthday,
        province=province, city=city, tags=tags, provided=frozenset(data.keys()),
    )


# ---------------------------------------------------------------- writes


async def customer_by_identity(mobile: str | None, email: str | None) -> dict | None:
    if mobile:
        row = await Customer.select().where(Customer.mobile == mobile).first()
        if row:
            return row
    if email:
        return await Customer.select().where(Customer.email == email).first()
    return None


async def _attach_tags(customer_id: int, names: list[str]) -> None:
    for name in names:
        tag = await Tag.select(Tag.id).where(Tag.name == name).first()
        tag_id = tag["id"] if tag else (
            await Tag.insert(Tag(name=name, created_at=now())).returning(Tag.id)
        )[0]["id"]
        if not await CustomerTag.exists().where(
            (CustomerTag.customer == customer_id) & (CustomerTag.tag == tag_id)
        ):
            await CustomerTag.insert(CustomerTag(customer=customer_id, tag=tag_id, created_at=now()))


async def _insert(data: CustomerInput, owner_id: int | None = None, team_id: int | None = None) -> int:
    stamp = now()
    inserted = await Customer.insert(
        Customer(
            name=data.name, mobile=data.mobile, email=data.email, gender=data.gender,
            birthday=data.birthday, province=data.province, city=data.city,
            first_channel=data.first_channel, owner=owner_id, team=team_id,
            search_text=identity.search_text(data.name, data.mobile, data.email),
            created_at=stamp, updated_at=stamp,
        )
    ).returning(Customer.id)
    return inserted[0]["id"]


async def create_customer(data: CustomerInput, actor: Actor, team_id: int | None) -> int:
    """Staff adding a customer by hand: they own it. An existing identity is an error, not
    an update, because the existing customer may belong to someone the actor cannot see."""
    try:
        async with writing():
            existing = await customer_by_identity(data.mobile, data.email)
            if existing:
                key = "mobile" if data.mobile and existing["mobile"] == data.mobile else "email"
                raise ValidationFailed({key: "a customer with this already exists"})
            customer_id = await _insert(data, actor.id, team_id)
            await _attach_tags(customer_id, data.tags)
            await record("customer.create", actor_id=actor.id, actor=actor.label,
                         target_type="customer", target_id=customer_id, ip=actor.ip,
                         detail={"fields": ["created"]})
    except Exception as exc:
        if is_unique_violation(exc):
            raise ValidationFailed({"mobile": "a customer with this already exists"}) from exc
        raise
    return customer_id


async def _upsert_once(data: CustomerInput, actor: Actor) -> tuple[int, bool]:
    async with writing():
        row = await customer_by_identity(data.mobile, data.email)
        stamp = now()
        if row is None:
            customer_id, created, changed = await _insert(data), True, ["created"]
        else:
            customer_id, created = row["id"], False
            changes = _changes(row, data)
            if data.email and data.email != row["email"]:
                clash = await Customer.exists().where(
                    (Customer.email == data.email) & (Customer.id != customer_id)
                )
                if clash:
                    raise ValidationFailed({"email": "belongs to another customer"})
            if data.mobile and data.mobile != row["mobile"]:
                clash = await Customer.exists().where(
                    (Customer.mobile == data.mobile) & (Customer.id != customer_id)
                )
                if clash:
                    raise ValidationFailed({"mobile": "belongs to another customer"})
            changed = sorted(changes)
            if changes:
                merged = {**row, **changes}
                changes["search_text"] = identity.search_text(
                    merged["name"], merged["mobile"], merged["email"]
                )
                changes["updated_at"] = stamp
                await Customer.update(changes).where(Customer.id == customer_id)
        await _attach_tags(customer_id, data.tags)
        if changed or data.tags:
            await record(
                "customer.create" if created else "customer.update",
                actor_id=actor.id, actor=actor.label, target_type="customer",
                target_id=customer_id, ip=actor.ip,
                detail={"fields": changed, "tags": data.tags} if data.tags else {"fields": changed},
            )
    return customer_id, created


def _changes(row: dict, data: CustomerInput) -> dict:
    """Fields the input sets to a new value; absent or empty optional fields keep theirs."""
    candidate = {
        "name": data.name,
        "mobile": data.mobile,
        "email": data.email,
        "gender": data.gender if "gender" in data.provided else None,
        "birthday": data.birthday,
        "province": data.province,
        "city": data.city,
    }
    return {k: v for k, v in candidate.items() if v not in (None, "") and row.get(k) != v}


async def upsert_customer(data: CustomerInput, actor: Actor) -> tuple[int, bool]:
    """Create or update by mobile, else e-mail. Returns (id, created)."""
    try:
        return await _upsert_once(data, actor)
    except Exception as exc:  # a concurrent insert of the same person won: update it
        if not is_unique_violation(exc):
            raise
        return await _upsert_once(data, actor)


FOLLOW_UP_CHIPS = (1, 3, 7)  # tomorrow, in 3 days, next week
FOLLOW_UP_MAX_DAYS = 730


def parse_follow_up(date_text: str, in_days: str, today: dt.date, errors: dict) -> dt.date | None:
    """The next follow-up date from a date (2024-03-05, 2024/3/5) or a quick chip (days from
    today); the date wins when both are sent. None when neither is."""
    date_text = (date_text or "").strip()[:20]
    in_days = (in_days or "").strip()[:4]
    if date_text:
        try:
            when = fields.parse_date(date_text)
        except ValueError as exc:
            errors["next_follow_up_on"] = str(exc)
            return None
    elif in_days:
        if not in_days.isdecimal() or int(in_days) not in FOLLOW_UP_CHIPS:
            errors["next_follow_up_on"] = "one of 1, 3, 7"
            return None
        when = today + dt.timedelta(days=int(in_days))
    else:
        return None
    if when < today:
        errors["next_follow_up_on"] = "today or later"
    elif when > today + dt.timedelta(days=FOLLOW_UP_MAX_DAYS):
        errors["next_follow_up_on"] = "within the next two years"
    return when


async def add_interaction(
    scope: Scope,
    customer_id: int,
    kind: str,
    body: str,
    actor: Actor,
    outcome: str = "",
    next_follow_up: str = "",
    follow_up_in: str = "",
    today: dt.date | None = None,
    follow_up_title: str = "Follow up",
    zone=None,
) -> int:
    """Log a call, visit, message or note with its outcome and, optionally, the next
    follow-up date: that becomes a follow-up for the person logging, due at 10:00 that day
    (their zone) with a reminder then. Scope first: out of scope is NotFound."""
    errors: dict[str, str] = {}
    if kind not in INTERACTION_KINDS:
        errors["kind"] = f"one of {', '.join(INTERACTION_KINDS)}"
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        errors["body"] = "required"
    elif len(body) > 2000:
        errors["body"] = "at most 2000 characters"
    outcome = (outcome or "").strip()
    if outcome not in INTERACTION_OUTCOMES:
        errors["outcome"] = f"one of {', '.join(o for o in INTERACTION_OUTCOMES if o)}"
    follow_up = parse_follow_up(next_follow_up, follow_up_in, today or dt.date.today(), errors)
    async with writing():
        await get_customer(scope, customer_id)  # an unknown customer is 404, not a form error
        if errors:
            raise ValidationFailed(errors)
        stamp = now()
        rows = await Interaction.insert(
            Interaction(customer=customer_id, staff=actor.id, kind=kind, body=body,
                        outcome=outcome, next_follow_up_on=follow_up,
                        happened_at=stamp, created_at=stamp)
        ).returning(Interaction.id)
        if follow_up is not None and actor.id is not None:
            await _plan_follow_up(customer_id, kind, follow_up, actor, follow_up_title, zone, body)
        detail = {"kind": kind, "fields": ["next_follow_up_on"]} if follow_up else {"kind": kind}
        await record("interaction.create", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=customer_id, ip=actor.ip, detail=detail)
    return rows[0]["id"]


FOLLOW_UP_AT = dt.time(10, 0)


async def _plan_follow_up(customer_id: int, kind: str, day: dt.date, actor: Actor, title: str,
                          zone, body: str = "") -> None:
    """The follow-up a logged interaction asks for, titled with the log's first words (the
    generic title only if there are none) and carrying the whole log as its note."""
    from db.followups import service as followups  # follow-ups build on customers

    due = dt.datetime.combine(day, FOLLOW_UP_AT, tzinfo=zone or SHOP_TZ).astimezone(dt.timezone.utc)
    values = followups.FollowUpInput(
        customer_id=customer_id, assignee_id=actor.id, kind=kind if kind in followups.KINDS else "call",
        title=followups.first_words(body) or title, priority="normal", due_at=due, remind_at=due,
        note=body,
    )
    errors: dict[str, str] = {}
    followups.check(values, errors, at=min(due, now()))
    if errors:
        raise ValidationFailed({"next_follow_up_on": next(iter(errors.values()))})
    await followups.create(Scope.everything(), values, actor, source="log")


# ---------------------------------------------------------------- tags on one customer


async def _tag_row(tag_id: int | None = None, name: str | None = None) -> dict | None:
    rows = await raw(
        # names are unique ignoring case (as the tag pages treat them): "vip" finds "VIP"
        "SELECT id, name, color, rule FROM tag WHERE "
        + ("id = {}" if tag_id is not None else "lower(name) = lower({})"),
        tag_id if tag_id is not None else name,
    )
    return rows[0] if rows else None


async def add_tag(scope: Scope, customer_id: int, name: str, actor: Actor) -> dict:
    """Put a manual tag on the customer, creating the tag when it is new. Rule tags follow
    their rule and are refused. Returns the tag ({id, name, color})."""
    errors: dict[str, str] = {}
    name = _text({"name": name}, "name", errors, 40, required=True)
    async with writing():
        await get_customer(scope, customer_id)
        if errors:
            raise ValidationFailed(errors)
        tag = await _tag_row(name=name)
        if tag and tag["rule"]:
            raise ValidationFailed({"name": "a rule tag follows its rule; it cannot be added by hand"})
        if tag is None:
            await raw("INSERT INTO tag (name, color, rule, description, created_at) "
                      "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (name) DO NOTHING",
                      name, "blue", "", "", now())
            tag = await _tag_row(name=name)
        added = await raw("INSERT INTO customer_tag (customer, tag, created_at) VALUES ({}, {}, {}) "
                          "ON CONFLICT DO NOTHING RETURNING id", customer_id, tag["id"], now())
        if added:
            await record("customer.update", actor_id=actor.id, actor=actor.label,
                         target_type="customer", target_id=customer_id, ip=actor.ip,
                         detail={"fields": ["tags"], "tags": [tag["name"]]})
    return {"id": tag["id"], "name": tag["name"], "color": tag["color"]}


async def remove_tag(scope: Scope, customer_id: int, tag_id: int, actor: Actor) -> None:
    """Take a manual tag off the customer (a tag it does not have: nothing happens)."""
    async with writing():
        await get_customer(scope, customer_id)
        tag = await _tag_row(tag_id=tag_id)
        if tag is None:
            return
        if tag["rule"]:
            raise ValidationFailed({"name": "a rule tag follows its rule; it cannot be removed by hand"})
        removed = await raw("DELETE FROM customer_tag WHERE customer = {} AND tag = {} RETURNING id",
                            customer_id, tag_id)
        if removed:
            await record("customer.update", actor_id=actor.id, actor=actor.label,
                         target_type="customer", target_id=customer_id, ip=actor.ip,
                         detail={"fields": ["tags"], "removed": [tag["name"]]})


# ---------------------------------------------------------------- profile edit

PROFILE_FIELDS = ("name", "mobile", "email", "gender", "birthday", "province", "city", "address")


async def assignable(scope: Scope) -> dict:
    """Who a customer may be given to by this scope: managers their team's active staff,
    admins every active staff member and every team; staff nobody (they cannot reassign)."""
    if scope.kind == "own" or (scope.kind == "team" and scope.team_id is None):
        return {"staff": [], "teams": []}
    where, args = "s.is_active = {}", [True]
    if scope.kind == "team":
        where += " AND s.team = {}"
        args.append(scope.team_id)
    staff = await raw(
        "SELECT s.id, s.display_name, s.username, s.team, t.name AS team_name FROM staff_user s "
        f"LEFT JOIN team t ON t.id = s.team WHERE {where} ORDER BY s.display_name, s.id LIMIT 500",
        *args,
    )
    teams = await raw("SELECT id, name FROM team ORDER BY name LIMIT 200") if scope.kind == "all" else []
    return {"staff": staff, "teams": teams}


def _int_or_none(value, errors: dict, key: str) -> int | None:
    value = "" if value is None else str(value).strip()
    if not value:
        return None
    if not value.isdecimal() or len(value) > 12:
        errors[key] = "not one of the choices"
        return None
    return int(value)


async def _check_assignment(scope: Scope, row: dict, owner_raw, team_raw, errors: dict) -> dict:
    """The owner/team change the scope allows, as column values ({} when nothing changes)."""
    if owner_raw is None and team_raw is None:
        return {}
    if scope.kind == "own":
        errors["owner"] = "only managers and admins can reassign customers"
        return {}
    owner_id = _int_or_none(owner_raw, errors, "owner")
    if scope.kind == "team":
        team_id = scope.team_id
    else:
        team_id = _int_or_none(team_raw, errors, "team") if team_raw is not None else row["team"]
    if "owner" in errors or "team" in errors:
        return {}
    choices = await assignable(scope)
    if owner_id is not None and owner_id not in {s["id"] for s in choices["staff"]}:
        errors["owner"] = "not one of the choices"
    if scope.kind == "all" and team_id is not None and team_id not in {t["id"] for t in choices["teams"]}:
        errors["team"] = "not one of the choices"
    changes = {}
    if owner_id != row["owner"]:
        changes["owner"] = owner_id
    if team_id != row["team"]:
        changes["team"] = team_id
    return changes


async def update_customer(
    scope: Scope,
    customer_id: int,
    data: dict[str, Any],
    actor: Actor,
    custom: dict[str, Any] | None = None,
    owner: str | None = None,
    team: str | None = None,
) -> list[str]:
    """Edit a customer's profile from the card: the fields in PROFILE_FIELDS as sent (an
    empty optional field clears it), custom field values by key, and, for managers and
    admins, the owner and team. Everything is validated first and written in one
    transaction; the audit entry names the changed fields. Returns those names."""
    errors: dict[str, str] = {}
    parsed = None
    try:
        parsed = parse_customer({k: data.get(k, "") for k in PROFILE_FIELDS if k != "address"})
    except ValidationFailed as exc:
        errors.update(exc.errors)
    address = _text(data, "address", errors, 200)
    custom = custom or {}
    async with writing():
        row = await get_customer(scope, customer_id)
        defined = {f["key"]: f for f in await fields.list_fields()} if custom else {}
        for key, value in custom.items():
            if key in defined:
                try:
                    fields.clean_value(defined[key], value)
                except ValueError as exc:
                    errors[f"custom.{key}"] = str(exc)
        assignment = await _check_assignment(scope, row, owner, team, errors)
        if errors:
            raise ValidationFailed(errors)
        for key, column in (("mobile", Customer.mobile), ("email", Customer.email)):
            value = getattr(parsed, key)
            if value and value != row[key] and await Customer.exists().where(
                (column == value) & (Customer.id != customer_id)
            ):
                errors[key] = "belongs to another customer"
        if errors:
            raise ValidationFailed(errors)
        wanted = {
            "name": parsed.name, "mobile": parsed.mobile, "email": parsed.email,
            "gender": parsed.gender, "birthday": parsed.birthday, "province": parsed.province,
            "city": parsed.city, "address": address, **assignment,
        }
        changes = {k: v for k, v in wanted.items() if row.get(k) != v}
        if changes:
            changes["search_text"] = identity.search_text(parsed.name, parsed.mobile, parsed.email)
            changes["updated_at"] = now()
            try:
                await Customer.update(changes).where(Customer.id == customer_id)
            except Exception as exc:
                if is_unique_violation(exc):
                    raise ValidationFailed({"mobile": "belongs to another customer"}) from exc
                raise
        changed_custom = await fields.set_values(customer_id, {k: v for k, v in custom.items() if k in defined})
        changed = sorted(k for k in changes if k not in ("search_text", "updated_at"))
        changed += [f"custom.{k}" for k in changed_custom]
        if changed:
            await record("customer.update", actor_id=actor.id, actor=actor.label,
                         target_type="customer", target_id=customer_id, ip=actor.ip,
                         detail={"fields": changed})
    return changed

# ---------------------------------------------------------------- reads


async def get_customer(scope: Scope, customer_id: int) -> dict:
    """The customer if the scope allows it; NotFound otherwise (the same answer for both)."""
    row = await Customer.select().where(Customer.id == customer_id).first()
    if not row or not scope.allows(row["owner"], row["team"]):
        raise NotFound()
    return row


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


async def search_customers(
    scope: Scope,
    q: str = "",
    tag_id: int | None = None,
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
    lifecycle: str | None = None,
) -> tuple[list[dict], int | None]:
    """A page of customers, newest first, and the cursor for the next page (or None).

    Text of three or more characters is matched anywhere in the name, the mobile's digits or
    the e-mail through the substring index; shorter text matches the start of the name.
    `lifecycle` (one of LIFECYCLE_STAGES; anything else is ignored) keeps one stage, off the
    (lifecycle_stage, id) index when it is the only filter.
    """
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




async def tags_for(customer_ids: list[int]) -> dict[int, list[dict]]:
    if not customer_ids:
        return {}
    marks = ", ".join("{}" for _ in customer_ids)
    rows = await raw(
        "SELECT ct.customer, t.id, t.name, t.color, t.rule FROM customer_tag ct "
        f"JOIN tag t ON t.id = ct.tag WHERE ct.customer IN ({marks}) ORDER BY t.name",
        *customer_ids,
    )
    out: dict[int, list[dict]] = {}
    for row in rows:
        out.setdefault(row["customer"], []).append(
            {"id": row["id"], "name": row["name"], "color": row["color"], "rule": bool(row["rule"])}
        )
    return out


async def all_tags() -> list[dict]:
    # Raw SQL: the customer list's filter reads it on every full page, and Piccolo's select
    # cost 10% of that page to build and convert.
    return await raw("SELECT id, name, color FROM tag ORDER BY name LIMIT 500")


async def _card_people(customer: dict, staff_id: int | None) -> dict:
    """Owner and team names, and the kind this staff member logged last (the log form's default)."""
    rows = await raw(
        "SELECT (SELECT display_name FROM staff_user WHERE id = {}) AS owner_name, "
        "(SELECT name FROM team WHERE id = {}) AS team_name, "
        "(SELECT kind FROM interaction WHERE staff = {} ORDER BY happened_at DESC LIMIT 1) AS last_kind",
        customer["owner"], customer["team"], staff_id,
    )
    return rows[0]


def _figures(customer: dict) -> dict:
    """Key figures from the stored columns (db/customers/lifecycle.py keeps them current)."""
    count, spent = customer["orders_count"] or 0, customer["total_spent_fen"] or 0
    rfm = (customer["rfm_r"], customer["rfm_f"], customer["rfm_m"])
    return {
        "orders": count,
        "spent_fen": spent,
        "average_fen": spent // count if count else None,
        "first_order_at": as_datetime(customer["first_order_at"]),
        "last_order_at": as_datetime(customer["last_order_at"]),
        "rfm": rfm if all(rfm) else None,
        # Slots for capabilities still to come: None renders nothing on the card.
        "points_balance": None,
        "predicted_value_fen": None,
        "tier": None,
    }


async def customer_activity(scope: Scope, customer_id: int) -> dict:
    """What the card refreshes after an interaction is logged: the customer (its next
    follow-up) and the first page of the timeline, without the rest of the card."""
    from db.customers import timeline

    async with reading():
        customer = await get_customer(scope, customer_id)
        entries, more = await timeline.first_page(customer_id)
    return {"customer": customer, "timeline": entries, "timeline_next": more}


async def customer_tags(scope: Scope, customer_id: int, with_choices: bool = False) -> dict:
    """The customer and their tags (rule tags marked), and the manual tags to choose from."""
    from db.customers import tags as tag_admin  # it imports this module
    async with reading():
        customer = await get_customer(scope, customer_id)
        tags = (await tags_for([customer_id])).get(customer_id, [])
        choices = await tag_admin.manual_tags() if with_choices else []
    return {"customer": customer, "tags": tags, "tag_choices": choices}


async def _custom_fields_of(customer_id: int) -> list[dict]:
    """Every defined custom field with this customer's value ("" when none)."""
    defined = await fields.list_fields()
    values = (await fields.values_for([customer_id])).get(customer_id, {}) if defined else {}
    return [{**f, "value": values.get(f["key"], "")} for f in defined]


async def customer_edit(scope: Scope, customer_id: int) -> dict:
    """What the edit form needs: the customer, custom fields and their values, and who the
    customer may be assigned to (empty for staff)."""
    async with reading():
        customer = await get_customer(scope, customer_id)
        custom = await _custom_fields_of(customer_id)
        choices = await assignable(scope)
    return {"customer": customer, "custom_fields": custom, **choices}


async def customer_page(scope: Scope, customer_id: int, staff_id: int | None = None) -> dict:
    """Everything the 360 card shows, read on one connection in a fixed few queries: the
    customer row (with its stored figures), tags, owner and team, custom fields and the
    first page of the timeline."""
    from db.customers import timeline

    async with reading():
        customer = await get_customer(scope, customer_id)
        tags = (await tags_for([customer_id])).get(customer_id, [])
        people = await _card_people(customer, staff_id)
        custom = await _custom_fields_of(customer_id)
        entries, more = await timeline.first_page(customer_id)
    return {
        "customer": customer,
        "mobile_display": identity.display_mobile(customer["mobile"]),
        "mobile_masked": identity.mask_mobile(customer["mobile"]),
        "tags": tags,
        "figures": _figures(customer),
        "custom_fields": custom,
        "timeline": entries,
        "timeline_next": more,
        "owner_name": people["owner_name"],
        "team_name": people["team_name"],
        "last_kind": people["last_kind"] or FIRST_KIND,
    }

# ---------------------------------------------------------------- API representation


def _iso(value) -> str | None:
    value = as_datetime(value)
    return value.isoformat() if value is not None else None


NOT_A_MEMBER = {"member_no": None, "tier": None, "points_balance": None}


async def _membership_of(customer_ids: list[int]) -> dict[int, dict]:
    marks = ", ".join("{}" for _ in customer_ids)
    rows = await raw(
        "SELECT m.customer, m.member_no, m.points_balance, t.name AS tier FROM member m "
        f"JOIN tier t ON t.id = m.tier WHERE m.customer IN ({marks})", *customer_ids)
    return {r["customer"]: {"member_no": r["member_no"], "tier": r["tier"],
                            "points_balance": r["points_balance"]} for r in rows}


async def customers_json(scope: Scope, customer_ids: list[int]) -> list[dict]:
    """The API's view of customers, in the order given, skipping any the scope hides."""
    if not customer_ids:
        return []
    async with reading():
        rows = await Customer.select().where(Customer.id.is_in(customer_ids))
        tags = await tags_for(customer_ids)
        custom = await fields.values_for(customer_ids)
        members = await _membership_of(customer_ids)
    by_id = {r["id"]: r for r in rows if scope.allows(r["owner"], r["team"])}
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "mobile": row["mobile"],
            "email": row["email"],
            "gender": row["gender"],
            "birthday": row["birthday"].isoformat() if row["birthday"] else None,
            "province": row["province"],
            "city": row["city"],
            "address": row["address"],
            "first_channel": row["first_channel"],
            "owner_id": row["owner"],
            "team_id": row["team"],
            "lifecycle_stage": row["lifecycle_stage"],
            "rfm": {"r": row["rfm_r"], "f": row["rfm_f"], "m": row["rfm_m"]},
            "orders_count": row["orders_count"],
            "total_spent": format_fen(row["total_spent_fen"]),
            "first_order_at": _iso(row["first_order_at"]),
            "last_order_at": _iso(row["last_order_at"]),
            "tags": [t["name"] for t in tags.get(row["id"], [])],
            "custom_fields": custom.get(row["id"], {}),
            **members.get(row["id"], NOT_A_MEMBER),
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
        }
        for row in (by_id.get(i) for i in customer_ids)
        if row is not None
    ]


async def customer_json(scope: Scope, customer_id: int) -> dict:
    found = await customers_json(scope, [customer_id])
    if not found:
        raise NotFound()
    return found[0]


async def find_by_identity(scope: Scope, mobile: str | None, email: str | None) -> list[int]:
    errors = {}
    try:
        mobile = identity.normalise_mobile(mobile)
    except identity.InvalidIdentity as exc:
        errors["mobile"] = str(exc)
    try:
        email = identity.normalise_email(email)
    except identity.InvalidIdentity as exc:
        errors["email"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    row = await customer_by_identity(mobile, email)
    return [row["id"]] if row and scope.allows(row["owner"], row["team"]) else []
