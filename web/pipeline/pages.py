"""Pipeline pages: the board (one stage at a time on a phone, every stage side by side on a
desktop, from one template), creating, editing, moving and deleting opportunities, and the
managers' stage settings. Thin: parse, authorise (the Scope), call db/pipeline, render.

The board's view is (stage, mine): both are in the URL, and the move sheet carries them
along, so a move re-renders exactly the board the person was looking at.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from db.customers.search import clean_query, search_customers
from db.customers.service import get_customer
from db.errors import Conflict, NotFound, ValidationFailed
from db.pipeline import board, opportunities, stages
from web.core.auth import actor_of, role_required, scope_of, staff_required
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from web.core.i18n import ngettext
from web.core import settings_area
from web.core.forms import Field, read, read_form, texts
from db.i18n import N_
from web.core.settings_area import Area, Row
from web.core.params import parse_id
from db.settings import get_settings
from web.core.templating import is_fragment_request, render, shop_labels, toast_header

BOARD = "pipeline/board.html"
FORM = "pipeline/form.html"
MESSAGES = {
    "created": "Opportunity added.", "saved": "Opportunity saved.", "moved": "Moved.",
    "deleted": "Opportunity deleted.", "conflict": "Someone else moved it meanwhile: here is where it is now.",
}


def _tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _today() -> dt.date:
    return dt.datetime.now(_tz()).date()


def _flashes(msg: str | None) -> list[tuple[str, str]]:
    if msg not in MESSAGES:
        return []
    return [("info" if msg == "conflict" else "success", _(MESSAGES[msg]))]


def _view_query(stage_id: int | None, mine: bool, **extra) -> str:
    params = {"stage": stage_id, "mine": "1" if mine else None, **extra}
    return urlencode({k: v for k, v in params.items() if v})


async def _board_context(request: Request, stage_id: int | None, mine: bool,
                         after: str | None = None) -> dict:
    user = request.scope["auth"].user
    found = await board.board(scope_of(request), owner_id=user.id if mine else None, tz=_tz())
    columns = found["stages"]
    current = next((s for s in columns if s["id"] == stage_id), None) or next(
        (s for s in columns if s["outcome"] == "open"), columns[0] if columns else None)
    if current and after:  # "Show more" without JavaScript: that column from the cursor on
        current["items"], current["more"] = await board.column(
            scope_of(request), current, owner_id=user.id if mine else None, after=after)
    return {"nav": "more", "stages": columns, "current": current, "totals": found["totals"],
            "mine": mine, "today": _today(), "view": lambda **kw: _view_query(
                current["id"] if current else None, mine, **kw)}


FIELDS = texts(*opportunities.FIELDS, max_length=400)  # opportunities.create / update parse the text
MOVE_FIELDS = (Field("view_stage", kind="id"), Field("view_mine", kind="checkbox"), Field("from"),
               Field("stage_id", kind="id"), Field("seen_stage_id", kind="id"))


async def _form_context(request: Request, values: dict, errors: dict, item: dict | None = None,
                        q: str = "") -> dict:
    scope, user = scope_of(request), request.scope["auth"].user
    customer, found = None, []
    customer_id = parse_id(values.get("customer_id"))
    if customer_id:
        try:
            customer = await get_customer(scope, customer_id)
        except NotFound:
            customer = None
    if not customer and q.strip():
        found, _cursor = await search_customers(scope, q, limit=8)
    return {
        "nav": "more", "values": values, "errors": errors, "item": item, "customer": customer,
        "q": q, "found": found, "stages": await stages.list_stages(),
        "owners": await opportunities.owner_choices(scope, user.id),
    }


class PipelineController(Controller):
    path = "/pipeline"
    guards = [staff_required]

    @get("/")
    async def board_page(self, request: Request, stage: FromQuery[str | None] = None,
                         mine: FromQuery[str | None] = None, after: FromQuery[str | None] = None,
                         msg: FromQuery[str | None] = None) -> Response:
        stage_id, is_mine, after = parse_id(stage), mine == "1", (after or "")[:40] or None
        if after and is_fragment_request(request) and stage_id:
            user = request.scope["auth"].user
            column = await stages.get_stage(stage_id)
            items, more = await board.column(scope_of(request), column, after=after,
                                             owner_id=user.id if is_mine else None)
            return render(request, BOARD, {"column": {**column, "items": items, "more": more},
                                           "mine": is_mine, "today": _today(),
                                           "view": lambda **kw: _view_query(stage_id, is_mine, **kw)},
                          block="column_page")
        context = await _board_context(request, stage_id, is_mine, after)
        return render(request, BOARD, {**context, "flashes": _flashes(msg)}, block="board")

    @get("/customers")
    async def customer_options(self, request: Request, q: FromQuery[str] = "") -> Response:
        """HTMX: the customers the create form's search field finds."""
        context = await _form_context(request, {}, {}, q=clean_query(q))
        return render(request, FORM, context, block="customer_options")

    @get("/new")
    async def new_page(self, request: Request, customer_id: FromQuery[str | None] = None,
                       q: FromQuery[str] = "") -> Response:
        values = read(request.query_params, FIELDS).text
        values["customer_id"] = str(parse_id(customer_id) or "")
        values.setdefault("owner_id", "")
        if not values["owner_id"]:
            values["owner_id"] = str(request.scope["auth"].user.id)
        return render(request, FORM, await _form_context(request, values, {}, q=clean_query(q)))

    @post("/")
    async def create(self, request: Request) -> Response:
        form = await read_form(request, (*FIELDS, Field("q", max_length=100)))
        values = {k: form.text[k] for k in opportunities.FIELDS}
        try:
            opportunity_id = await opportunities.create(scope_of(request), values, actor_of(request))
        except ValidationFailed as exc:
            context = await _form_context(request, values, field_errors(exc.errors), q=form.text["q"])
            return render(request, FORM, context, status=422)
        return Redirect(f"/pipeline/{opportunity_id}?msg=created", status_code=303)

    @get("/{opportunity_id:int}")
    async def detail(self, request: Request, opportunity_id: FromPath[int],
                     msg: FromQuery[str | None] = None) -> Response:
        item = await opportunities.get(scope_of(request), opportunity_id)
        return render(request, "pipeline/detail.html", {
            "nav": "more", "item": item, "today": _today(), "flashes": _flashes(msg)})

    @get("/{opportunity_id:int}/edit")
    async def edit_page(self, request: Request, opportunity_id: FromPath[int]) -> Response:
        item = await opportunities.get(scope_of(request), opportunity_id)
        values = {"customer_id": str(item["customer"]), "title": item["title"],
                  "amount": f"{item['amount_fen'] // 100}.{item['amount_fen'] % 100:02d}",
                  "expected_close_on": item["expected_close_on"].isoformat() if item["expected_close_on"] else "",
                  "owner_id": str(item["owner"] or ""), "stage_id": str(item["stage"])}
        context = await _form_context(request, values, {}, item)
        if item["owner"] and item["owner"] not in {o["id"] for o in context["owners"]}:
            context["owners"].append({"id": item["owner"], "display_name": item["owner_name"]})
        return render(request, FORM, context)

    @post("/{opportunity_id:int}/edit")
    async def edit(self, request: Request, opportunity_id: FromPath[int]) -> Response:
        scope = scope_of(request)
        values = (await read_form(request, FIELDS)).text
        try:
            await opportunities.update(scope, opportunity_id, values, actor_of(request))
        except ValidationFailed as exc:
            item = await opportunities.get(scope, opportunity_id)
            values["customer_id"] = str(item["customer"])
            context = await _form_context(request, values, field_errors(exc.errors), item)
            return render(request, FORM, context, status=422)
        return Redirect(f"/pipeline/{opportunity_id}?msg=saved", status_code=303)

    @get("/{opportunity_id:int}/move")
    async def move_page(self, request: Request, opportunity_id: FromPath[int],
                        stage: FromQuery[str | None] = None, mine: FromQuery[str | None] = None) -> Response:
        """The move sheet's content (HTMX), or a page of its own without JavaScript."""
        item = await opportunities.get(scope_of(request), opportunity_id)
        return render(request, "pipeline/move.html", {
            "nav": "more", "item": item, "view_stage": parse_id(stage), "view_mine": mine == "1",
        }, block="move_form")

    @post("/{opportunity_id:int}/move")
    async def move(self, request: Request, opportunity_id: FromPath[int]) -> Response:
        form = (await read_form(request, MOVE_FIELDS)).values
        view_stage, view_mine, on_board = form["view_stage"], form["view_mine"], form["from"] == "board"
        msg = "moved"
        try:
            await opportunities.move(scope_of(request), opportunity_id, form["stage_id"],
                                     actor_of(request), seen_stage_id=form["seen_stage_id"])
        except Conflict:
            msg = "conflict"
        if not is_fragment_request(request):
            if on_board:
                return Redirect(f"/pipeline?{_view_query(view_stage, view_mine, msg=msg)}", status_code=303)
            return Redirect(f"/pipeline/{opportunity_id}?msg={msg}", status_code=303)
        context = await _board_context(request, view_stage, view_mine)
        return render(request, BOARD, context, block="board", headers=toast_header(_(MESSAGES[msg])))

    @get("/{opportunity_id:int}/delete")
    async def delete_page(self, request: Request, opportunity_id: FromPath[int]) -> Response:
        item = await opportunities.get(scope_of(request), opportunity_id)
        return render(request, "pipeline/delete.html", {"nav": "more", "item": item})

    @post("/{opportunity_id:int}/delete")
    async def delete(self, request: Request, opportunity_id: FromPath[int]) -> Response:
        await opportunities.delete(scope_of(request), opportunity_id, actor_of(request))
        return Redirect("/pipeline?msg=deleted", status_code=303)


# ---------------------------------------------------------------- stage settings (managers)


def _stage_row(s: dict) -> Row:
    labels = shop_labels()
    locked = "" if s["deletable"] else (_("Move its opportunities to another stage first") if s["count"]
                                        else _("The pipeline needs this stage"))
    return Row(str(labels.stage_name(s["code"], s["name"])),
               [ngettext("%(num)d opportunity", "%(num)d opportunities", s["count"]) % {"num": s["count"]}],
               [(labels.pipeline_outcomes[s["outcome"]], labels.pipeline_tones[s["outcome"]])],
               value=s["name"], placeholder=labels.pipeline_stages.get(s["code"], ""), locked=locked)


STAGES = Area(
    prefix="/settings/pipeline", key="stage", title=N_("Pipeline stages"),
    subtitle=N_("The columns of the pipeline board, in order. Won and lost close an opportunity."),
    new_title="", save_label="", delete_label="", delete_note="", inline=True, add_title=N_("Add a stage"),
    fields=(Field("name", N_("Stage name"), max_length=200, placeholder=N_("e.g. Sample sent"),
                  hint=N_("A new stage is open and goes after the last open stage."), attrs={"maxlength": 40}),),
    row=_stage_row, list=stages.stages_with_counts, get=stages.get_stage, values=lambda s: {"name": s["name"]},
    create=lambda v, actor: stages.add_stage(v["name"], actor),
    update=lambda stage_id, v, actor: stages.rename_stage(stage_id, v["name"], actor),
    delete=stages.delete_stage, reorder=stages.move_stage,
    messages={"created": N_("Stage added."), "saved": N_("Stage saved."), "deleted": N_("Stage deleted.")},
    msg_keys={"created": "stage_added"}, item_title=lambda s: s["name"],
)

SETTINGS_ROUTERS = [settings_area.router(STAGES, [role_required("manager", "admin")])]
