"""Follow-up pages: Today (my overdue, today and upcoming), one follow-up, the new and edit
forms, the complete and snooze sheets, and the managers' team view.

Every action is a real form (a page with its sheet open without JavaScript, then
Post/Redirect/Get). From Today, HTMX loads a sheet into #sheet-slot and a completed or
snoozed follow-up refreshes the lists in place.
"""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRefresh, HtmxHeaderType
from litestar.response import Redirect

from db.clock import YEARS_MESSAGE, plausible_year
from db.customers.search import clean_query, search_customers
from db.customers.service import get_customer
from db.errors import Conflict, NotFound, ValidationFailed
from db.followups import service
from db.followups import rules as followup_rules
from db.followups import lists as followup_lists
from db.followups.reminders import wake
from db.followups.rules import FollowUpInput
from db.followups.tables import KINDS, OUTCOMES, PRIORITIES
from db.engine import reading
from db.pipeline import board as pipeline_board
from db.pipeline.opportunities import owner_choices
from web.core.forms import Field, read, read_form, texts
from web.core.auth import actor_of, role_required, scope_of, staff_required
from web.core.i18n import ZONES, current_lang, current_zone, field_errors
from web.core.i18n import gettext as _
from web.core.params import parse_id
from web.core.templating import is_fragment_request, render, toast_header
from db.staff.accounts import set_timezone

TODAY = "followups/today.html"
DETAIL = "followups/detail.html"
FORM = "followups/form.html"
TEAM = "followups/team.html"

REMIND_OPTIONS = ("", "0", "10", "30", "60", "1440")  # minutes before the due time
NEXT_CHIPS = (1, 3, 7, 30)
SNOOZE_OPTIONS = ("1h", "3h", "tomorrow", "next_week")


def _local_now() -> dt.datetime:
    return dt.datetime.now(current_zone())


def snooze_until(option: str) -> dt.datetime | None:
    """The time a snooze option means, in the viewer's zone (mornings at 09:00)."""
    at = _local_now().replace(second=0, microsecond=0)
    nine = dt.time(9, 0)
    if option == "1h":
        return at + dt.timedelta(hours=1)
    if option == "3h":
        return at + dt.timedelta(hours=3)
    if option == "tomorrow":
        return dt.datetime.combine(at.date() + dt.timedelta(days=1), nine, tzinfo=at.tzinfo)
    if option == "next_week":
        days = 7 - at.weekday()
        return dt.datetime.combine(at.date() + dt.timedelta(days=days), nine, tzinfo=at.tzinfo)
    return None


def _origin(value: str | None) -> str:
    """Where a sheet was opened: 'card' (reload it after) or 'today' (refresh the lists)."""
    return "card" if value == "card" else "today"


# The forms' fields, read as text: parse_form and the services parse and check them.
COMPLETE_FIELDS = texts("result", "note", "next_in", "next_on", "from")
SNOOZE_FIELDS = texts("until", "from")
FOLLOW_UP_FIELDS = texts("customer_id", "kind", "title", "due_chip", "due_date", "due_time", "remind",
                         "priority", "assignee", "opportunity_id", "every_days")
REMINDER_FIELDS = texts("timezone", "digest_at")
REASSIGN_FIELDS = (Field("to", kind="id"), Field("person", kind="id"))


def parse_form(values: dict, user_id: int, errors: dict) -> FollowUpInput:
    """The new/edit form: a local date and time, a reminder as minutes before, a repeat."""
    tz = current_zone()
    day = values.get("due_chip") or values["due_date"]  # a chip tapped without JavaScript wins
    due = followup_rules.parse_local(day, values["due_time"], tz, "due_at", errors)
    remind = values.get("remind", "")
    remind_at = None
    if remind not in REMIND_OPTIONS:
        errors["remind"] = "one of the listed choices"
    elif remind and due is not None:
        remind_at = due - dt.timedelta(minutes=int(remind))
    every = values.get("every_days", "")
    kind = values["kind"]
    return FollowUpInput(
        customer_id=parse_id(values.get("customer_id")),
        assignee_id=parse_id(values.get("assignee")) or user_id,
        kind=kind,
        title=values["title"].strip() or (_label_kind(kind) if kind in KINDS else ""),
        priority=values.get("priority") or "normal",
        due_at=due, remind_at=remind_at,
        opportunity_id=parse_id(values.get("opportunity_id")),
        every_days=int(every) if every.isdecimal() else (None if not every else -1),
    )


def _label_kind(kind: str) -> str:
    return {"call": _("Call back"), "visit": _("Visit"), "message": _("Send a message"),
            "after_sales": _("After-sales check")}[kind]


def _next_from(values: dict, errors: dict) -> followup_rules.NextFollowUp | None:
    """The optional next follow-up on the complete sheet: a chip (days) or a date. The rest
    (time of day, kind, reminder, title) is the domain's rule (followup_rules.plan_next)."""
    day = None
    if values.get("next_on"):
        try:
            day = dt.date.fromisoformat(values["next_on"][:10])
        except ValueError:
            errors["next_on"] = "a date like 2026-12-01"
            return None
        if not plausible_year(day):
            errors["next_on"] = YEARS_MESSAGE
            return None
    elif values.get("next_in"):
        if not values["next_in"].isdecimal() or int(values["next_in"]) not in NEXT_CHIPS:
            errors["next_on"] = "one of the listed choices"
            return None
        day = _local_now().date() + dt.timedelta(days=int(values["next_in"]))
    if day is None:
        return None
    return followup_rules.NextFollowUp(on=day, zone=current_zone())


def _outcome_code(values: dict) -> str:
    """The chip tapped on the sheet (a code; anything else is no chip)."""
    return values.get("result", "") if values.get("result", "") in OUTCOMES else ""


async def today_context(request: Request) -> dict:
    user = request.scope["auth"].user
    lists = await followup_lists.today_lists(user.id, current_zone(), request.query_params.get("show"))
    counts = lists["counts"]
    # The push prompt needs no query: it shows itself only where this browser is not yet on.
    return {"nav": "today", **lists, "badge_counts": {"today": counts["overdue"] + counts["today"]},
            "is_manager": user.role in ("admin", "manager"), "snooze_options": SNOOZE_OPTIONS}


class FollowUpController(Controller):
    path = "/"
    guards = [staff_required]

    @get("/today")
    async def today(self, request: Request) -> Response:
        async with reading():
            context = await today_context(request)
        return render(request, TODAY, context, block="lists")

    # ------------------------------------------------------------ one follow-up

    async def _detail(self, request: Request, follow_up_id: int, *, block: str | None = None,
                      htmx: HtmxHeaderType | None = None, **extra) -> Response:
        async with reading():
            row = await followup_lists.get(scope_of(request), follow_up_id)
        context = {"nav": "today", "f": row, "next_chips": NEXT_CHIPS, "snooze_options": SNOOZE_OPTIONS,
                   "values": {}, "errors": {}, "htmx": is_fragment_request(request),
                   "origin": _origin(request.query_params.get("from")), **extra}
        return render(request, DETAIL, context, block=block, htmx=htmx)

    @get("/followups/{follow_up_id:int}")
    async def detail(self, request: Request, follow_up_id: FromPath[int],
                     msg: FromQuery[str | None] = None) -> Response:
        flashes = {"done": _("Done. Nice work."), "snoozed": _("Snoozed."), "saved": _("Saved."),
                   "cancelled": _("Cancelled."), "stopped": _("It will not repeat again."),
                   "already": _("Someone already completed this follow-up.")}
        return await self._detail(request, follow_up_id,
                                  flashes=[("success", flashes[msg])] if msg in flashes else [])

    @get("/followups/{follow_up_id:int}/complete")
    async def complete_form(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        return await self._detail(request, follow_up_id, sheet="complete", block="complete_sheet")

    @get("/followups/{follow_up_id:int}/snooze")
    async def snooze_form(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        return await self._detail(request, follow_up_id, sheet="snooze", block="snooze_sheet")

    async def _after_change(self, request: Request, follow_up_id: int, msg: str, toast: str,
                            origin: str) -> Response:
        """Where a finished action goes: Today's lists (HTMX from Today), the card again (HTMX
        from the card) or the follow-up page."""
        if is_fragment_request(request) and _origin(origin) == "card":
            refresh = ClientRefresh()  # the card reloads itself
            refresh.status_code = 200  # as before (a POST handler's own default is 201)
            refresh.content = b""  # an empty body, not JSON null
            return refresh
        if is_fragment_request(request):
            async with reading():
                context = await today_context(request)
            return render(request, TODAY, context, block="lists", headers=toast_header(toast))
        return Redirect(f"/followups/{follow_up_id}?msg={msg}", status_code=303)

    @post("/followups/{follow_up_id:int}/complete")
    async def complete(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        values = (await read_form(request, COMPLETE_FIELDS)).text
        scope, errors = scope_of(request), {}
        next_values = _next_from(values, errors)
        try:
            if errors:
                await followup_lists.get(scope, follow_up_id)  # unknown stays 404 before field errors
                raise ValidationFailed(errors)
            await service.complete(scope, follow_up_id, actor_of(request), values["note"].strip(), next_values,
                                   outcome_code=_outcome_code(values), lang=current_lang())
        except ValidationFailed as exc:
            return await self._form_errors(request, follow_up_id, "complete", values, exc)
        except Conflict:
            return await self._after_change(request, follow_up_id, "already",
                                            _("Someone already completed this follow-up."), values["from"])
        return await self._after_change(request, follow_up_id, "done", _("Done. Nice work."), values["from"])

    async def _form_errors(self, request, follow_up_id, sheet, values, exc) -> Response:
        errors = field_errors(exc.errors)
        if "outcome" in errors:
            errors["note"] = _("Choose an outcome or write what happened.")
        return await self._detail(request, follow_up_id, sheet=sheet, values=values, errors=errors,
                                  block=f"{sheet}_form", origin=_origin(values.get("from")),
                                  htmx={"re_target": f"#{sheet}-form", "re_swap": "outerHTML"})

    @post("/followups/{follow_up_id:int}/snooze")
    async def snooze(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        values = (await read_form(request, SNOOZE_FIELDS)).text
        until = snooze_until(values["until"])
        try:
            if until is None:
                raise ValidationFailed({"until": "one of the listed choices"})
            await service.snooze(scope_of(request), follow_up_id, actor_of(request),
                                 until.astimezone(dt.timezone.utc))
        except ValidationFailed as exc:
            return await self._form_errors(request, follow_up_id, "snooze", values, exc)
        except Conflict:
            return await self._after_change(request, follow_up_id, "already",
                                            _("Someone already completed this follow-up."), values["from"])
        wake()
        return await self._after_change(request, follow_up_id, "snoozed", _("Snoozed."), values["from"])

    @post("/followups/{follow_up_id:int}/cancel")
    async def cancel(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        try:
            await service.cancel_follow_up(scope_of(request), follow_up_id, actor_of(request))
        except Conflict:
            return Redirect(f"/followups/{follow_up_id}?msg=already", status_code=303)
        return Redirect(f"/followups/{follow_up_id}?msg=cancelled", status_code=303)

    @post("/followups/{follow_up_id:int}/stop-repeating")
    async def stop_repeating(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        await service.stop_plan(scope_of(request), follow_up_id, actor_of(request))
        return Redirect(f"/followups/{follow_up_id}?msg=stopped", status_code=303)

    # ------------------------------------------------------------ new and edit

    async def _form_page(self, request: Request, values: dict, errors: dict, follow_up=None) -> Response:
        scope, user = scope_of(request), request.scope["auth"].user
        customer, opportunities, matches = None, [], []
        customer_id = parse_id(values.get("customer_id"))
        async with reading():
            if customer_id:
                try:
                    customer = await get_customer(scope, customer_id)
                    opportunities = await pipeline_board.for_customer(scope, customer_id)
                except NotFound:  # out of scope or gone: pick a customer instead
                    customer = None
            if not customer and values.get("q"):
                matches, _more = await search_customers(scope, values["q"], limit=10)
            # Whom a follow-up may be assigned to: the same people as an opportunity's owner.
            staff = [(p["id"], p["display_name"]) for p in await owner_choices(scope, user.id)]
        today = _local_now().date()
        return render(request, FORM, {
            "nav": "today", "values": values, "errors": errors, "customer": customer,
            "opportunities": opportunities, "staff": staff, "matches": matches, "follow_up": follow_up,
            "kinds": KINDS, "priorities": PRIORITIES, "remind_options": REMIND_OPTIONS,
            "plan_choices": [("", _("Does not repeat"))]
            + [(str(n), _("Every %(n)d days") % {"n": n}) for n in followup_rules.PLAN_DAYS],
            "opportunity_choices": [("", _("None"))] + [(str(o["id"]), o["title"]) for o in opportunities],
            "day_chips": [(0, today), (1, today + dt.timedelta(days=1)), (3, today + dt.timedelta(days=3)),
                          (7, today + dt.timedelta(days=7))],
        }, status=200)

    @get("/followups/new")
    async def new(self, request: Request, customer_id: FromQuery[str | None] = None,
                  q: FromQuery[str | None] = None) -> Response:
        user = request.scope["auth"].user
        soon = (_local_now() + dt.timedelta(hours=1)).replace(minute=0)
        values = {"customer_id": customer_id or "", "q": clean_query(q), "kind": "call",
                  "due_date": soon.date().isoformat(), "due_time": soon.strftime("%H:%M"),
                  "remind": "0", "priority": "normal", "assignee": str(user.id), "title": "",
                  "every_days": ""}
        return await self._form_page(request, values, {})

    @post("/followups")
    async def create(self, request: Request) -> Response:
        values = (await read_form(request, FOLLOW_UP_FIELDS)).text
        user = request.scope["auth"].user
        errors: dict[str, str] = {}
        parsed = parse_form(values, user.id, errors)
        try:
            if errors:
                followup_rules.check(parsed, errors)
                raise ValidationFailed(errors)
            follow_up_id = await service.create(scope_of(request), parsed, actor_of(request))
        except ValidationFailed as exc:
            return await self._form_page(request, values, field_errors(_form_keys(exc.errors)))
        wake()
        return Redirect(f"/followups/{follow_up_id}?msg=saved", status_code=303)

    @get("/followups/{follow_up_id:int}/edit")
    async def edit(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        row = await followup_lists.get(scope_of(request), follow_up_id)
        tz = current_zone()
        due = row["due_at"].astimezone(tz)
        lead = ""
        if row["remind_at"]:
            minutes = str(int((row["due_at"] - row["remind_at"]).total_seconds() // 60))
            lead = minutes if minutes in REMIND_OPTIONS else "0"
        values = {"customer_id": str(row["customer"]), "kind": row["kind"], "title": row["title"],
                  "due_date": due.date().isoformat(), "due_time": due.strftime("%H:%M"),
                  "remind": lead, "priority": row["priority"], "assignee": str(row["assignee"] or ""),
                  "opportunity_id": str(row["opportunity"] or "")}
        return await self._form_page(request, values, {}, follow_up=row)

    @post("/followups/{follow_up_id:int}/edit")
    async def save_edit(self, request: Request, follow_up_id: FromPath[int]) -> Response:
        values = (await read_form(request, FOLLOW_UP_FIELDS)).text
        row = await followup_lists.get(scope_of(request), follow_up_id)
        values["customer_id"] = str(row["customer"])
        errors: dict[str, str] = {}
        parsed = parse_form(values, request.scope["auth"].user.id, errors)
        parsed.every_days = None
        try:
            if errors:
                followup_rules.check(parsed, errors)
                raise ValidationFailed(errors)
            await service.update(scope_of(request), follow_up_id, parsed, actor_of(request))
            wake()
        except ValidationFailed as exc:
            return await self._form_page(request, values, field_errors(_form_keys(exc.errors)), follow_up=row)
        except Conflict:
            return Redirect(f"/followups/{follow_up_id}?msg=already", status_code=303)
        return Redirect(f"/followups/{follow_up_id}?msg=saved", status_code=303)

    # ------------------------------------------------------------ my digest and time zone

    @post("/account/reminders")
    async def save_reminders(self, request: Request) -> Response:
        form = (await read_form(request, REMINDER_FIELDS)).text
        user = request.scope["auth"].user
        zone = form["timezone"]
        await service.set_digest_time(user.id, form["digest_at"])
        await set_timezone(user.id, zone if zone in ZONES else None)
        return Redirect("/account?msg=reminders", status_code=303)

    # ------------------------------------------------------------ managers: the team

    @get("/today/team", guards=[role_required("admin", "manager")])
    async def team(self, request: Request, person: FromQuery[str | None] = None,
                   msg: FromQuery[str | None] = None) -> Response:
        scope = scope_of(request)
        async with reading():
            people = await followup_lists.team_overview(scope, current_zone())
            chosen = next((p for p in people if p["id"] == parse_id(person)), None)
            items = await followup_lists.open_for(scope, chosen["id"]) if chosen else []
        flashes = [("success", _("Reassigned."))] if msg == "reassigned" else []
        return render(request, TEAM, {"nav": "today", "people": people, "chosen": chosen,
                                      "items": items, "flashes": flashes})

    @post("/today/team/reassign", guards=[role_required("admin", "manager")])
    async def reassign(self, request: Request) -> Response:
        form = await request.form()
        # A list of ticked rows: one name many times, which the reader (one value a name) leaves.
        ids = [i for i in (parse_id(v) for v in form.getall("follow_up", [])[:500]) if i]
        chosen = read(form, REASSIGN_FIELDS).values
        to, person = chosen["to"], chosen["person"]
        scope = scope_of(request)
        allowed = {p["id"] for p in await owner_choices(scope, request.scope["auth"].user.id)}
        if not ids or to not in allowed:
            return Redirect(f"/today/team?person={person or ''}", status_code=303)
        await service.reassign(scope, ids, to, actor_of(request))
        return Redirect(f"/today/team?person={person or ''}&msg=reassigned", status_code=303)


def _form_keys(errors: dict[str, str]) -> dict[str, str]:
    """Domain field names -> the form's (the due time is a date and a time there)."""
    renamed = {"due_at": "due_date", "remind_at": "remind", "customer_id": "customer_id",
               "assignee": "assignee", "every_days": "every_days"}
    return {renamed.get(k, k): v for k, v in errors.items()}
