"""Opportunities: create, edit, move between stages, delete — the pipeline's rules.

Every function takes the caller's Scope: an opportunity is visible exactly when its customer
is (Scope.clause on the customer join); anything else is NotFound, whatever the id. A move
records one OpportunityStageChange (the customer's timeline shows it) in the same
transaction that changes the stage, copies the stage's outcome into `status` and sets or
clears `closed_at`; a move to the stage it is already in changes and records nothing.
Creates, moves, edits and deletes go to the audit log (ids and field names, no values).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from db.audit.log import record
from db.clock import now
from db.customers.scope import Scope
from db.actor import Actor
from db.customers.service import get_customer
from db.engine import as_date, as_datetime, is_sqlite, raw, reading, writing
from db.errors import Conflict, NotFound, ValidationFailed
from db.money import parse_money
from db.pipeline.stages import list_stages
from db.pipeline.tables import Opportunity, OpportunityStageChange

TITLE_MAX = 120
MAX_AMOUNT_FEN = 10**11  # ¥1,000,000,000.00: a deal above that is a typo
FIELDS = ("customer_id", "title", "amount", "expected_close_on", "owner_id", "stage_id")


def _id(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdecimal() and len(text) < 12 else None


async def owner_choices(scope: Scope, me_id: int | None) -> list[dict]:
    """Who may own an opportunity this scope creates: admins any active staff member, others
    the active staff of their own team (or only themselves without a team)."""
    where, args = "is_active = {}", [True]
    if scope.kind != "all":
        if scope.team_id is None:
            where += " AND id = {}"
            args.append(me_id)
        else:
            where += " AND team = {}"
            args.append(scope.team_id)
    return await raw(
        f"SELECT id, display_name, username FROM staff_user WHERE {where} "
        "ORDER BY display_name, id LIMIT 500", *args)


def _title(text: Any, errors: dict) -> str:
    title = " ".join(str(text or "").split())
    if not title:
        errors["title"] = "required"
    elif len(title) > TITLE_MAX:
        errors["title"] = f"at most {TITLE_MAX} characters"
    return title


def _amount(text: Any, errors: dict) -> int:
    text = str(text or "").strip()
    if not text:
        return 0
    try:
        fen = parse_money(text)
    except ValueError as exc:
        errors["amount"] = str(exc)
        return 0
    if fen > MAX_AMOUNT_FEN:
        errors["amount"] = "too large"
    return fen


def _close_date(text: Any, errors: dict) -> dt.date | None:
    text = str(text or "").strip()
    if not text:
        return None
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        errors["expected_close_on"] = "a date like 2024-03-05"
        return None
    if not 2000 <= value.year <= 2099:
        errors["expected_close_on"] = "a date like 2024-03-05"
        return None
    return value


async def _checked(scope: Scope, values: dict, actor: Actor, *, new: bool,
                   current_owner: int | None = None) -> dict:
    """The validated columns of a create (new) or an edit; ValidationFailed with every bad
    field's message otherwise. An edit may keep an owner who is no longer a choice."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "title": _title(values.get("title"), errors),
        "amount_fen": _amount(values.get("amount"), errors),
        "expected_close_on": _close_date(values.get("expected_close_on"), errors),
    }
    owner_raw = values.get("owner_id")
    owner_id = _id(owner_raw)
    if owner_id is None and str(owner_raw or "").strip():
        errors["owner_id"] = "not one of the choices"
    elif owner_id is not None and owner_id != current_owner:
        if owner_id not in {s["id"] for s in await owner_choices(scope, actor.id)}:
            errors["owner_id"] = "not one of the choices"
    data["owner"] = owner_id
    if new:
        customer_id = _id(values.get("customer_id"))
        try:
            if customer_id is None:
                raise NotFound()
            await get_customer(scope, customer_id)
        except NotFound:
            errors["customer_id"] = "choose a customer"
        data["customer"] = customer_id
        stages = await list_stages()
        stage_id = _id(values.get("stage_id"))
        if stage_id is None and not str(values.get("stage_id") or "").strip():
            stage_id = next((s["id"] for s in stages if s["outcome"] == "open"), None)
        stage = next((s for s in stages if s["id"] == stage_id), None)
        if stage is None:
            errors["stage_id"] = "not one of the choices"
        data["stage"] = stage
    if errors:
        raise ValidationFailed(errors)
    return data


async def create(scope: Scope, values: dict, actor: Actor) -> int:
    """A new opportunity from form values (FIELDS, as text); its id. The first stage change
    ("created") goes to the customer's timeline."""
    async with writing():
        data = await _checked(scope, values, actor, new=True)
        stage = data.pop("stage")
        at = now()
        row = (await Opportunity.insert(Opportunity(
            **data, stage=stage["id"], status=stage["outcome"], created_at=at, updated_at=at,
            closed_at=at if stage["outcome"] != "open" else None, created_by=actor.id,
        )).returning(Opportunity.id))[0]
        await OpportunityStageChange.insert(OpportunityStageChange(
            opportunity=row["id"], customer=data["customer"], kind="created", from_stage=None,
            to_stage=stage["id"], changed_by=actor.id, changed_at=at, amount_fen=data["amount_fen"],
        ))
        await record("opportunity.create", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="opportunity", target_id=row["id"])
    return row["id"]


async def _visible(scope: Scope, opportunity_id: int, *, lock: bool = False) -> dict:
    scope_sql, args = scope.clause("c")
    rows = await raw(
        "SELECT o.*, c.name AS customer_name FROM opportunity o "
        f"JOIN customer c ON c.id = o.customer WHERE o.id = {{}} AND {scope_sql}"
        + (" FOR UPDATE OF o" if lock and not is_sqlite() else ""),
        opportunity_id, *args,
    )
    if not rows:
        raise NotFound()
    row = rows[0]
    row["expected_close_on"] = as_date(row["expected_close_on"])
    for key in ("created_at", "updated_at", "closed_at"):
        row[key] = as_datetime(row[key])
    row["amount_fen"] = int(row["amount_fen"])
    return row


async def update(scope: Scope, opportunity_id: int, values: dict, actor: Actor) -> None:
    """Change the title, amount, expected close date and owner (the stage changes by move)."""
    async with writing():
        row = await _visible(scope, opportunity_id, lock=True)
        data = await _checked(scope, values, actor, new=False, current_owner=row["owner"])
        changed = [k for k, v in data.items() if row[k] != v]
        if not changed:
            return
        await Opportunity.update({**data, "updated_at": now()}).where(Opportunity.id == opportunity_id)
        await record("opportunity.update", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="opportunity", target_id=opportunity_id, detail={"fields": changed})


async def move(scope: Scope, opportunity_id: int, stage_id: int | None, actor: Actor,
               *, seen_stage_id: int | None = None) -> bool:
    """Move to another stage; True when it moved, False when it was already there.

    seen_stage_id: the stage the person saw it in. When someone else moved it meanwhile
    (two phones at once), Conflict, and nothing changes."""
    async with writing():
        row = await _visible(scope, opportunity_id, lock=True)
        stage = next((s for s in await list_stages() if s["id"] == stage_id), None)
        if stage is None:
            raise ValidationFailed({"stage_id": "not one of the choices"})
        if row["stage"] == stage["id"]:
            return False
        if seen_stage_id is not None and row["stage"] != seen_stage_id:
            raise Conflict("moved by someone else meanwhile")
        at = now()
        closed_at = None
        if stage["outcome"] != "open":
            closed_at = row["closed_at"] if row["status"] == stage["outcome"] and row["closed_at"] else at
        await Opportunity.update({
            Opportunity.stage: stage["id"], Opportunity.status: stage["outcome"],
            Opportunity.closed_at: closed_at, Opportunity.updated_at: at,
        }).where(Opportunity.id == opportunity_id)
        await OpportunityStageChange.insert(OpportunityStageChange(
            opportunity=opportunity_id, customer=row["customer"], kind="moved",
            from_stage=row["stage"], to_stage=stage["id"], changed_by=actor.id, changed_at=at,
            amount_fen=row["amount_fen"],
        ))
        await record("opportunity.move", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="opportunity", target_id=opportunity_id,
                     detail={"from": row["stage"], "to": stage["id"]})
    return True


async def delete(scope: Scope, opportunity_id: int, actor: Actor) -> int:
    """Delete it and its stage history; the customer's id (to go back to)."""
    async with writing():
        row = await _visible(scope, opportunity_id, lock=True)
        await Opportunity.delete().where(Opportunity.id == opportunity_id)
        await record("opportunity.delete", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="opportunity", target_id=opportunity_id)
    return row["customer"]


async def history(opportunity_id: int, limit: int = 100) -> list[dict]:
    """Its stage changes, newest first, with stage codes/names and who moved it."""
    rows = await raw(
        "SELECT sc.id, sc.kind, sc.changed_at, sc.amount_fen, "
        "fs.code AS from_code, fs.name AS from_name, ts.code AS to_code, ts.name AS to_name, "
        "s.display_name AS changed_by_name FROM opportunity_stage_change sc "
        "LEFT JOIN pipeline_stage fs ON fs.id = sc.from_stage "
        "LEFT JOIN pipeline_stage ts ON ts.id = sc.to_stage "
        "LEFT JOIN staff_user s ON s.id = sc.changed_by "
        f"WHERE sc.opportunity = {{}} ORDER BY sc.changed_at DESC, sc.id DESC LIMIT {int(limit)}",
        opportunity_id,
    )
    for row in rows:
        row["changed_at"] = as_datetime(row["changed_at"])
        row["amount_fen"] = int(row["amount_fen"])
    return rows


async def get(scope: Scope, opportunity_id: int) -> dict:
    """The opportunity page: the row, its customer's name, stage, owner and history."""
    async with reading():
        row = await _visible(scope, opportunity_id)
        stages = await list_stages()
        owner = await raw("SELECT display_name FROM staff_user WHERE id = {}", row["owner"]) \
            if row["owner"] else []
        row["owner_name"] = owner[0]["display_name"] if owner else ""
        row["history"] = await history(opportunity_id)
    row["stage_row"] = next((s for s in stages if s["id"] == row["stage"]), None)
    row["stages"] = stages
    return row
