"""Tags: manual tags staff attach by hand, and rule tags whose members follow a rule.

A tag's kind is fixed when it is made: a manual tag never gets a rule (its members would be
lost), and a rule tag always has one. Saving a rule tag recomputes its members in the same
transaction, so a tag and its members never disagree. Every change is in the audit log.
"""

from __future__ import annotations

from typing import Any

from db.audit.log import record
from db.clock import now
from db.actor import Actor
from db.customers import rules
from db.customers.fields import list_fields
from db.customers.profile import text_field
from db.customers.scope import Scope
from db.customers.service import get_customer
from db.customers.tables import Tag
from db.engine import is_unique_violation, raw, reading, writing
from db.errors import NotFound, ValidationFailed

TAG_COLORS = ("blue", "green", "amber", "red", "purple", "neutral")
MAX_TAGS = 500
SYSTEM = Actor(None, "system")


def _clean(name: Any, color: Any, description: Any) -> tuple[str, str, str, dict]:
    errors: dict[str, str] = {}
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = "required"
    elif len(name) > 40:
        errors["name"] = "at most 40 characters"
    color = color if color in TAG_COLORS else None
    if color is None:
        errors["color"] = f"one of {', '.join(TAG_COLORS)}"
    description = description.strip() if isinstance(description, str) else ""
    if len(description) > 200:
        errors["description"] = "at most 200 characters"
    return name, color or "", description, errors


async def _parse_rule_into(rule: Any, errors: dict) -> dict | None:
    try:
        return rules.parse_rule(rule, await list_fields())
    except ValidationFailed as exc:
        errors.update(exc.errors)
        return None


async def _name_taken(name: str, except_id: int | None = None) -> bool:
    rows = await raw("SELECT id FROM tag WHERE lower(name) = lower({})", name)
    return any(r["id"] != except_id for r in rows)


def _taken_error(exc: Exception) -> ValidationFailed:
    if is_unique_violation(exc):
        return ValidationFailed({"name": "a tag with this name already exists"})
    raise exc


async def create_tag(
    name: str, color: str, description: str = "", rule: Any = None, *, actor: Actor = SYSTEM
) -> int:
    """A manual tag (rule None) or a rule tag (a rule as parse_rule takes it); returns its id.
    A rule tag's members are computed at once."""
    name, color, description, errors = _clean(name, color, description)
    parsed = await _parse_rule_into(rule, errors) if rule is not None else None
    if errors:
        raise ValidationFailed(errors)
    try:
        async with writing():
            if await _name_taken(name):
                raise ValidationFailed({"name": "a tag with this name already exists"})
            rows = await Tag.insert(Tag(
                name=name, color=color, description=description,
                rule=rules.dumps(parsed) if parsed else "", created_at=now(),
            )).returning(Tag.id)
            tag_id = rows[0]["id"]
            if parsed:
                await rules.refresh_rule_tags(tag_ids=[tag_id])
            await record("tag.create", actor_id=actor.id, actor=actor.label, target_type="tag",
                         target_id=tag_id, ip=actor.ip,
                         detail={"kind": "rule" if parsed else "manual"})
    except ValidationFailed:
        raise
    except Exception as exc:
        raise _taken_error(exc) from exc
    return tag_id


async def update_tag(
    tag_id: int, name: str, color: str, description: str = "", rule: Any = None, *,
    actor: Actor = SYSTEM,
) -> list[str]:
    """Change a tag; `rule` is required for a rule tag and refused for a manual one.
    Returns the names of the fields that changed."""
    name, color, description, errors = _clean(name, color, description)
    existing = await Tag.select().where(Tag.id == tag_id).first()
    if existing is None:
        raise NotFound()
    parsed = None
    if existing["rule"]:
        if rule is None:
            errors["rule"] = "add at least one condition"
        else:
            parsed = await _parse_rule_into(rule, errors)
    elif rule is not None:
        errors["rule"] = "a manual tag cannot get a rule; make a new rule tag instead"
    if errors:
        raise ValidationFailed(errors)
    changes: dict = {}
    if name != existing["name"]:
        changes["name"] = name
    if color != existing["color"]:
        changes["color"] = color
    if description != existing["description"]:
        changes["description"] = description
    new_rule = rules.dumps(parsed) if parsed else ""
    if existing["rule"] and new_rule != existing["rule"]:
        changes["rule"] = new_rule
    try:
        async with writing():
            if "name" in changes and await _name_taken(name, tag_id):
                raise ValidationFailed({"name": "a tag with this name already exists"})
            if changes:
                await Tag.update(changes).where(Tag.id == tag_id)
            if parsed:  # also brings members up to date with today's date on a time rule
                await rules.refresh_rule_tags(tag_ids=[tag_id])
            if changes:
                await record("tag.update", actor_id=actor.id, actor=actor.label,
                             target_type="tag", target_id=tag_id, ip=actor.ip,
                             detail={"fields": sorted(changes)})
    except ValidationFailed:
        raise
    except Exception as exc:
        raise _taken_error(exc) from exc
    return sorted(changes)


async def delete_tag(tag_id: int, *, actor: Actor = SYSTEM) -> None:
    """Delete a tag; its memberships go with it (the customers stay)."""
    async with writing():
        existing = await Tag.select(Tag.id, Tag.name, Tag.rule).where(Tag.id == tag_id).first()
        if existing is None:
            raise NotFound()
        members = await raw("SELECT COUNT(*) AS n FROM customer_tag WHERE tag = {}", tag_id)
        await raw("DELETE FROM customer_tag WHERE tag = {}", tag_id)
        await Tag.delete().where(Tag.id == tag_id)
        await record("tag.delete", actor_id=actor.id, actor=actor.label, target_type="tag",
                     target_id=tag_id, ip=actor.ip,
                     detail={"kind": "rule" if existing["rule"] else "manual",
                             "members": int(members[0]["n"])})


def _row(tag: dict, count: int) -> dict:
    rule = rules.stored_rule(tag["rule"]) if tag["rule"] else None
    return {
        "id": tag["id"], "name": tag["name"], "color": tag["color"],
        "description": tag["description"], "is_rule": bool(tag["rule"]), "rule": rule,
        "count": count,
    }


async def _counts(scope: Scope, tag_ids: list[int] | None = None) -> dict[int, int]:
    only, args = "", []
    if tag_ids is not None:
        only = f" AND ct.tag IN ({', '.join('{}' for _ in tag_ids)})"
        args = list(tag_ids)
    if scope.kind == "all":  # every membership is visible: the tag index alone answers
        rows = await raw(
            f"SELECT ct.tag, COUNT(*) AS n FROM customer_tag ct WHERE 1 = 1{only} GROUP BY ct.tag",
            *args,
        )
    else:
        scope_sql, scope_args = scope.clause("c")
        rows = await raw(
            "SELECT ct.tag, COUNT(*) AS n FROM customer c JOIN customer_tag ct ON ct.customer = c.id "
            f"WHERE {scope_sql}{only} GROUP BY ct.tag",
            *scope_args, *args,
        )
    return {r["tag"]: int(r["n"]) for r in rows}


async def list_tags(scope: Scope) -> list[dict]:
    """Every tag (by name) with how many of its members the viewer's scope holds:
    [{"id","name","color","description","is_rule","rule","count"}]."""
    async with reading():
        tags = await raw(
            f"SELECT id, name, color, description, rule FROM tag ORDER BY name LIMIT {MAX_TAGS}"
        )
        counts = await _counts(scope)
    return [_row(t, counts.get(t["id"], 0)) for t in tags]


async def get_tag(scope: Scope, tag_id: int) -> dict:
    """One tag as list_tags gives it (tags themselves are visible to every signed-in user;
    the count is of the members in the viewer's scope). NotFound if there is no such tag."""
    async with reading():
        tags = await raw(
            "SELECT id, name, color, description, rule FROM tag WHERE id = {}", tag_id
        )
        if not tags:
            raise NotFound()
        counts = await _counts(scope, [tag_id])
    return _row(tags[0], counts.get(tag_id, 0))


async def manual_tags() -> list[dict]:
    """Tags staff may attach by hand (rule tags' members are computed, never edited)."""
    return await raw(
        f"SELECT id, name, color FROM tag WHERE rule = '' ORDER BY name LIMIT {MAX_TAGS}"
    )


async def count_matches(scope: Scope, rule: Any) -> int:
    """How many customers in the viewer's scope a rule matches right now (the live preview).
    `rule` as parse_rule takes it; raises ValidationFailed for a bad rule."""
    errors: dict[str, str] = {}
    parsed = await _parse_rule_into(rule, errors)
    if errors:
        raise ValidationFailed(errors)
    return await count_parsed(scope, parsed)


async def count_parsed(scope: Scope, rule: dict) -> int:
    """count_matches for a rule already normalised by parse_rule."""
    cond, args = rules.compile_rule(rule, "c")
    scope_sql, scope_args = scope.clause("c")
    rows = await raw(
        f"SELECT COUNT(*) AS n FROM customer c WHERE {scope_sql} AND {cond}", *scope_args, *args
    )
    return int(rows[0]["n"])


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
    name = text_field({"name": name}, "name", errors, 40, required=True)
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
