"""Customers: create, upsert by identity, edit, and the reads every customer page starts from."""

from __future__ import annotations

from typing import Any

from db.actor import Actor
from db.audit.log import record
from db.clock import SHOP_TZ, now
from db.customers import fields, identity
from db.customers.profile import CustomerInput, parse_customer, text_field
from db.customers.scope import Scope
from db.customers.tables import Customer, CustomerTag, Tag
from db.engine import as_datetime, is_unique_violation, raw, writing
from db.errors import NotFound, ValidationFailed

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
    address = text_field(data, "address", errors, 200)
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


# Every column, in the table's order: what Customer.select() gives (the same types on both engines,
# sqlite3 converting by declared type), without building the select on every card and form.
_CUSTOMER_COLUMNS = ", ".join(f'"{c._meta.db_column_name}"' for c in Customer._meta.columns)


async def get_customer(scope: Scope, customer_id: int) -> dict:
    """The customer if the scope allows it; NotFound otherwise (the same answer for both)."""
    rows = await raw(f"SELECT {_CUSTOMER_COLUMNS} FROM customer WHERE id = {{}}", customer_id)
    row = rows[0] if rows else None
    if not row or not scope.allows(row["owner"], row["team"]):
        raise NotFound()
    return row


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


# ---------------------------------------------------------------- the next follow-up


async def refresh_next_follow_up(customer_ids: list[int]) -> None:
    """Customer.next_follow_up_on: the shop-local day of the earliest open follow-up (what
    the list and the card show; db/followups/ calls this whenever a follow-up opens or closes)."""
    for customer_id in set(customer_ids):
        rows = await raw(
            "SELECT MIN(due_at) AS due FROM follow_up WHERE customer = {} AND status = 'open'",
            customer_id,
        )
        due = as_datetime(rows[0]["due"]) if rows else None
        day = due.astimezone(SHOP_TZ).date() if due else None
        await raw("UPDATE customer SET next_follow_up_on = {} WHERE id = {}", day, customer_id)
