"""Follow-ups: creating, completing, snoozing, reassigning and cancelling them, and the daily
digest's time. The rules they obey are in rules.py; reading them is lists.py.

Completing is a conditional update (status must still be open), so two phones completing
the same follow-up at once give one completion and one next follow-up.
"""

from __future__ import annotations

import datetime as dt

from db.actor import Actor
from db.audit.log import record
from db.clock import now
from db.customers.scope import Scope
from db.customers.service import refresh_next_follow_up
from db.engine import raw, writing
from db.errors import Conflict, ValidationFailed
from db.followups.lists import get
from db.followups.rules import (
    FUTURE_LIMIT, NOTE_MAX, OUTCOME_MAX, SHOP_LANG, FollowUpInput, NextFollowUp, check, plan_next, ref,
)
from db.followups.tables import OUTCOMES, FollowUp, FollowUpPlan
from db.push import outbox

async def assignee_id(ref_value, errors: dict, field: str = "assignee") -> int | None:
    """An active staff member by id or username."""
    if ref_value is None or ref_value == "":
        errors[field] = "required"
        return None
    column = "id" if isinstance(ref_value, int) else "username"
    rows = await raw(f"SELECT id FROM staff_user WHERE {column} = {{}} AND is_active", ref_value)
    if not rows:
        errors[field] = "an active staff member's username"
        return None
    return rows[0]["id"]


async def _customer_visible(scope: Scope, customer_id) -> bool:
    if not isinstance(customer_id, int):
        return False
    clause, args = scope.clause("c")
    rows = await raw(f"SELECT 1 FROM customer c WHERE c.id = {{}} AND {clause}", customer_id, *args)
    return bool(rows)


async def create(scope: Scope, values: FollowUpInput, actor: Actor, *, source: str = "web",
                 assignee_ref=None) -> int:
    """Validate and insert one follow-up (and its plan when it repeats). All or nothing."""
    errors: dict[str, str] = {}
    check(values, errors)
    async with writing():
        if assignee_ref is not None or values.assignee_id is None:
            values.assignee_id = await assignee_id(assignee_ref, errors)
        elif not await assignee_id(values.assignee_id, errors):
            values.assignee_id = None
        if not await _customer_visible(scope, values.customer_id):
            errors["customer_id"] = "an existing customer you may see"
        if values.opportunity_id is not None and not await raw(
            "SELECT 1 FROM opportunity WHERE id = {} AND customer = {}",
            values.opportunity_id, values.customer_id,
        ):
            errors["opportunity_id"] = "an opportunity of this customer"
        if errors:
            raise ValidationFailed(errors)
        follow_up_id = await _insert(values, actor.id, source)
        await record("followup.create", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=values.customer_id, ip=actor.ip,
                     detail={"follow_up": follow_up_id, "source": source})
    return follow_up_id


async def _insert(values: FollowUpInput, actor_id: int | None, source: str,
                  plan_id: int | None = None) -> int:
    stamp = now()
    if values.every_days and plan_id is None:
        plan = await FollowUpPlan.insert(FollowUpPlan(
            customer=values.customer_id, assignee=values.assignee_id, kind=values.kind,
            title=values.title, priority=values.priority, every_days=values.every_days,
            created_by=actor_id, created_at=stamp,
        )).returning(FollowUpPlan.id)
        plan_id = plan[0]["id"]
    rows = await FollowUp.insert(FollowUp(
        customer=values.customer_id, opportunity=values.opportunity_id, plan=plan_id,
        assignee=values.assignee_id, kind=values.kind, title=values.title,
        priority=values.priority, status="open", due_at=values.due_at,
        remind_at=values.remind_at, note=(values.note or "")[:NOTE_MAX],
        reminder_state="pending" if values.remind_at else "none",
        source=source, created_by=actor_id, created_at=stamp, updated_at=stamp,
    )).returning(FollowUp.id)
    await refresh_next_follow_up([values.customer_id])
    return rows[0]["id"]



# ---------------------------------------------------------------- changing

async def _open_row(scope: Scope, follow_up_id: int) -> dict:
    """The follow-up if it is still open (writers then update it on status = 'open')."""
    row = await get(scope, follow_up_id)
    if row["status"] != "open":
        raise Conflict("already " + row["status"])
    return row


async def complete(scope: Scope, follow_up_id: int, actor: Actor, outcome: str = "",
                   next_values: FollowUpInput | NextFollowUp | None = None, *,
                   outcome_code: str = "", lang: str = SHOP_LANG) -> int | None:
    """Mark done with an outcome (a code of OUTCOMES, what happened in words, or both); create
    the next follow-up in the same transaction: as asked (a NextFollowUp, completed by
    `plan_next`; or a whole FollowUpInput), else from the repeating plan. Returns the next
    one's id. A second completion is a Conflict."""
    outcome = (outcome or "").strip() if isinstance(outcome, str) else ""
    if outcome_code not in ("", *OUTCOMES):
        raise ValueError(outcome_code)  # callers pass a code they offered, never raw input
    errors: dict[str, str] = {}
    if not outcome and not outcome_code:
        errors["outcome"] = "required"
    elif len(outcome) > OUTCOME_MAX:
        errors["outcome"] = "at most 2000 characters"
    row = await get(scope, follow_up_id)  # unknown stays 404 before field errors
    if isinstance(next_values, NextFollowUp):
        next_values = plan_next(row, next_values, outcome_code, outcome, lang)
    if next_values is not None:
        check(next_values, errors)
    if errors:
        raise ValidationFailed(errors)
    async with writing():
        row = await get(scope, follow_up_id)
        stamp = now()
        won = await raw(
            "UPDATE follow_up SET status = 'done', outcome = {}, outcome_code = {}, done_at = {}, "
            "done_by = {}, updated_at = {} WHERE id = {} AND status = 'open' RETURNING id",
            outcome, outcome_code, stamp, actor.id, stamp, follow_up_id,
        )
        if not won:
            raise Conflict("already " + (await get(scope, follow_up_id))["status"])
        next_id = await _next_after(row, next_values, actor, stamp)
        if next_id:
            await raw("UPDATE follow_up SET next_follow_up = {} WHERE id = {}", next_id, follow_up_id)
        await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.complete", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id, "next": next_id})
    return next_id


async def _next_after(row: dict, next_values: FollowUpInput | None, actor: Actor,
                      stamp: dt.datetime) -> int | None:
    if next_values is not None:
        next_values.customer_id = row["customer"]
        next_values.opportunity_id = next_values.opportunity_id or row["opportunity"]
        next_values.assignee_id = next_values.assignee_id or row["assignee"]
        return await _insert(next_values, actor.id, "web", plan_id=row["plan"] if row["plan_active"] else None)
    if not (row["plan"] and row["plan_active"]):
        return None
    base = max(row["due_at"], stamp)
    due = row["due_at"] + dt.timedelta(days=row["plan_every_days"])
    while due <= base:  # completed late: the next one is still every_days from now, same hour
        due += dt.timedelta(days=row["plan_every_days"])
    lead = (row["due_at"] - row["remind_at"]) if row["remind_at"] else None
    return await _insert(FollowUpInput(
        customer_id=row["customer"], assignee_id=row["assignee"], kind=row["kind"],
        title=row["title"], priority=row["priority"], due_at=due,
        remind_at=due - lead if lead is not None else None, opportunity_id=row["opportunity"],
    ), actor.id, "plan", plan_id=row["plan"])


async def _cancel_reminder(follow_up_id: int) -> None:
    await outbox.cancel(ref(follow_up_id))


async def cancel_follow_up(scope: Scope, follow_up_id: int, actor: Actor) -> None:
    async with writing():
        row = await _open_row(scope, follow_up_id)
        stamp = now()
        done = await raw("UPDATE follow_up SET status = 'cancelled', done_at = {}, done_by = {}, "
                         "updated_at = {} WHERE id = {} AND status = 'open' RETURNING id",
                         stamp, actor.id, stamp, follow_up_id)
        if not done:
            raise Conflict("already done")
        await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.cancel", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id})


async def snooze(scope: Scope, follow_up_id: int, actor: Actor, until: dt.datetime) -> None:
    """Move the follow-up (and its reminder) to a later time; the reminder fires again."""
    if until <= now() or until > now() + FUTURE_LIMIT:
        raise ValidationFailed({"until": "a time in the future"})
    async with writing():
        row = await _open_row(scope, follow_up_id)
        due = max(row["due_at"], until)
        await raw("UPDATE follow_up SET due_at = {}, remind_at = {}, reminder_state = 'pending', "
                  "reminder_late = {}, updated_at = {} WHERE id = {} AND status = 'open'",
                  due, until, False, now(), follow_up_id)
        await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.snooze", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id})


async def update(scope: Scope, follow_up_id: int, values: FollowUpInput, actor: Actor) -> None:
    """Edit an open follow-up's assignee, kind, title, priority and times."""
    errors: dict[str, str] = {}
    check(values, errors)
    async with writing():
        row = await _open_row(scope, follow_up_id)
        await assignee_id(values.assignee_id, errors)  # an unknown one adds its error
        if errors:
            raise ValidationFailed(errors)
        times_changed = values.due_at != row["due_at"] or values.remind_at != row["remind_at"]
        state = ("pending" if values.remind_at else "none") if times_changed else row["reminder_state"]
        await raw("UPDATE follow_up SET assignee = {}, kind = {}, title = {}, priority = {}, "
                  "due_at = {}, remind_at = {}, reminder_state = {}, updated_at = {} WHERE id = {}",
                  values.assignee_id, values.kind, values.title, values.priority,
                  values.due_at, values.remind_at, state, now(), follow_up_id)
        if times_changed:
            await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.update", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id})


async def stop_plan(scope: Scope, follow_up_id: int, actor: Actor) -> None:
    async with writing():
        row = await get(scope, follow_up_id)
        if row["plan"]:
            await raw("UPDATE follow_up_plan SET active = {} WHERE id = {}", False, row["plan"])
            await record("followup.plan_stop", actor_id=actor.id, actor=actor.label,
                         target_type="customer", target_id=row["customer"], ip=actor.ip,
                         detail={"plan": row["plan"]})


async def reassign(scope: Scope, follow_up_ids: list[int], to: int, actor: Actor) -> int:
    """Hand open follow-ups to another active person (managers: within what they may see)."""
    errors: dict[str, str] = {}
    if not await assignee_id(to, errors):
        raise ValidationFailed(errors)
    ids = [i for i in follow_up_ids[:500] if isinstance(i, int)]
    if not ids:
        return 0
    clause, args = scope.clause("c")
    marks = ", ".join("{}" for _ in ids)
    async with writing():
        # One statement: only open ones, only on customers this scope may see.
        moved = len(await raw(
            f"UPDATE follow_up SET assignee = {{}}, updated_at = {{}} WHERE id IN ({marks}) "
            f"AND status = 'open' AND customer IN (SELECT c.id FROM customer c WHERE {clause}) RETURNING id",
            to, now(), *ids, *args,
        ))
        await record("followup.reassign", actor_id=actor.id, actor=actor.label,
                     target_type="staff_user", target_id=to, ip=actor.ip,
                     detail={"count": moved})
    return moved


# ---------------------------------------------------------------- the daily digest

DIGEST_TIMES = ("07:00", "07:30", "08:00", "08:30", "09:00", "09:30", "10:00", "12:00", "18:00")


async def digest_time(user_id: int) -> str:
    rows = await raw('SELECT digest_at FROM digest_setting WHERE "user" = {}', user_id)
    return rows[0]["digest_at"] if rows else ""


async def set_digest_time(user_id: int, at: str) -> None:
    """When this person's digest goes out (their zone), or "" for never."""
    if at not in ("", *DIGEST_TIMES):
        raise ValidationFailed({"digest_at": "one of the listed choices"})
    async with writing():
        updated = await raw('UPDATE digest_setting SET digest_at = {} WHERE "user" = {} RETURNING id', at, user_id)
        if not updated:
            await raw('INSERT INTO digest_setting ("user", digest_at, last_sent_on) VALUES ({}, {}, {})',
                      user_id, at, "")
