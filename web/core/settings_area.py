"""One settings-page mechanism: an area (tiers, coupon types, rewards, …) is declared once and
this gives its list page, new / edit form pages with field errors, the delete confirmation
(a bottom sheet on the edit page), an on/off switch in the list, and the POST handlers, as a
Litestar Router. One list template and one form template (templates/settings/list.html and
form.html) draw every area.

The area's domain functions take the form's text (`ReadForm.text`) and raise ValidationFailed
with messages by field: the rules stay in db/, here is only the page flow (Post/Redirect/Get:
a good save redirects to the list with `?msg=<key>_created|saved|deleted`, a bad one answers
422 with the form and its errors, and nothing is stored).
"""

from __future__ import annotations

from db.i18n import N_

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from db.errors import ValidationFailed
from web.core.auth import actor_of
from web.core.forms import Field, read_form
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from web.core.templating import is_fragment_request, render, toast_header

LIST = "settings/list.html"
FORM = "settings/form.html"
DELETE = "settings/delete.html"
MOVE = Field("direction", kind="choice", choices=(("up", ""), ("down", "")))



N_("Switched on.")
N_("Switched off.")


@dataclass(frozen=True)
class Group:
    """Consecutive fields with the same `Field.group` sit in one block: side by side on a wide
    screen (`cls` "form-grid"), under a legend and a hint when given."""

    cls: str = "form-grid"
    legend: str = ""
    hint: str = ""
    when: str = ""
    unless: str = ""


@dataclass(frozen=True)
class Row:
    """What the list shows of one item: title, badges [(text, tone)], subtitle parts (joined
    by " · "), a second line, a count on the right. Already translated (built per request)."""

    title: str
    subtitle: list[str] = field(default_factory=list)
    badges: list[tuple[str, str]] = field(default_factory=list)
    strong: str = ""  # the subtitle's first part, in bold (a reward's points)
    code: str = ""  # the subtitle's first part, in figures (a custom field's key)
    value: str = ""  # an inline area: the name in the row's own input, its placeholder, and
    placeholder: str = ""  # why the row cannot be deleted (the delete button is then off)
    locked: str = ""
    extra: str = ""
    meta: str = ""


@dataclass(frozen=True)
class Area:
    """One settings area, declared once (see TIERS in web/members/settings.py): its pages'
    words (msgids, translated when shown), its form's fields, what a list row shows, and the
    domain functions that list, get, create, update, delete (and reorder) its items. create
    and update get the form's text and raise ValidationFailed by field; the actor is passed
    along for the audit log."""

    prefix: str  # "/settings/coupons"
    key: str  # message keys: "<key>_created", "<key>_saved", "<key>_deleted"
    title: str  # msgids from here on
    subtitle: str
    new_title: str
    save_label: str
    delete_label: str
    delete_note: str
    fields: tuple[Field, ...]
    row: Callable[[dict], Row]
    list: Callable[[], Awaitable[list[dict]]]
    get: Callable[[int], Awaitable[dict]]
    values: Callable[[dict], dict]  # a stored item as the form's text
    create: Callable[[dict, Any], Awaitable[Any]]
    update: Callable[[int, dict, Any], Awaitable[Any]]
    delete: Callable[[int, Any], Awaitable[Any]]
    messages: dict[str, str]  # "created" / "saved" / "deleted" -> msgid
    defaults: dict | Callable[[], Awaitable[dict]] = field(default_factory=dict)  # a new item's form text
    groups: dict[str, Group] = field(default_factory=dict)
    form_context: Callable[[dict | None, dict], Awaitable[dict]] | None = None
    row_id: str = ""  # the list row's element id prefix ("coupon-type-")
    toggle: bool = False  # an on/off switch in the list (the item's "active")
    reorder: Callable[[int, int, Any], Awaitable[Any]] | None = None  # (id, -1 up / +1 down, actor)
    rows_id: str = ""  # the element HTMX swaps after a move (block rows)
    list_class: str = "member-settings-list"
    row_class: str = "member-setting-row"
    invalid_status: int = 422  # a form with errors (custom fields answered 200, and still do)
    # An inline area (pipeline stages) is one page: each row is its own rename form, and the
    # add form sits under the list (POST to the prefix); errors show on the row or the add form.
    inline: bool = False
    add_title: str = ""
    msg_keys: dict[str, str] = field(default_factory=dict)  # e.g. {"created": "stage_added"}
    empty: tuple[str, str, str, str] | None = None  # title, text, action label, icon
    note: tuple[str, str, str] | None = None  # text under the list, link label, href
    form_class: str = ""
    item_title: Callable[[dict], str] = lambda item: item["name"]
    edit_title: str = ""  # the edit page's <title>, when not the item's name
    item_subtitle: Callable[[dict], str] | None = None
    delete_blocked: Callable[[dict, dict], str | None] | None = None  # why not (shown instead)
    back: tuple[str, str] = ("/more", N_("More"))

    def blocks(self) -> list[dict]:
        """The form's fields in their groups, in order, for the form template."""
        out: list[dict] = []
        for f in self.fields:
            if out and f.group and out[-1]["group"] == f.group:
                out[-1]["fields"].append(f)
            else:
                out.append({"group": f.group, "spec": self.groups.get(f.group, Group()), "fields": [f]})
        return out


def _msg_key(area: Area, what: str) -> str:
    return area.msg_keys.get(what) or f"{area.key}_{what}"


def _flashes(area: Area, msg: str | None) -> list[tuple[str, str]]:
    for what, message in area.messages.items():
        if msg == _msg_key(area, what):
            return [("success", _(message))]
    return []


def _first(exc: ValidationFailed) -> str:
    return next(iter(field_errors(exc.errors).values()))


async def _form(area: Area, request: Request, item: dict | None, values: dict, errors: dict,
                status: int = 200, delete_error: str | None = None) -> Response:
    extra = await area.form_context(item, values) if area.form_context else {}
    flags = {"is_new": item is None, **extra.pop("flags", {})}
    item = extra.pop("item", item)  # the area may show more of it (e.g. a tier's member count)
    blocked = area.delete_blocked(item, extra) if item and area.delete_blocked else None
    return render(request, FORM, {
        "nav": "more", "area": area, "item": item, "values": values, "errors": errors,
        "blocks": area.blocks(), "delete_error": delete_error, "delete_blocked": blocked,
        "sheet": "delete" if delete_error else None, "flags": flags, "options": {}, **extra}, status=status)


def _rows(area: Area, items: list[dict]) -> list[dict]:
    return [{"id": item["id"], "active": item.get("active", True), "name": area.item_title(item),
             "row": area.row(item)} for item in items]


def router(area: Area, guards: list) -> Router:
    """The area's pages and handlers under its prefix."""
    def done(what: str) -> Redirect:
        return Redirect(f"{area.prefix}?msg={_msg_key(area, what)}", status_code=303)

    async def listing(request: Request, msg: str | None = None, errors: dict | None = None,
                      values: dict | None = None, status: int = 200) -> Response:
        return render(request, LIST, {"nav": "more", "area": area, "rows": _rows(area, await area.list()),
                                      "flashes": _flashes(area, msg), "errors": errors or {},
                                      "values": values or {}}, status=status)

    @get("/", name=f"{area.key}-list")
    async def list_page(request: Request, msg: FromQuery[str | None] = None) -> Response:
        return await listing(request, msg)

    # ---------------------------------------------------------------- an inline area

    @post("/", name=f"{area.key}-add")
    async def add(request: Request) -> Response:
        form = await read_form(request, area.fields)
        try:
            await area.create(form.text, actor_of(request))
        except ValidationFailed as exc:
            return await listing(request, errors={"new": _first(exc)}, values={"new": form.text}, status=422)
        return done("created")

    @post("/{item_id:int}", name=f"{area.key}-rename")
    async def rename(request: Request, item_id: FromPath[int]) -> Response:
        form = await read_form(request, area.fields)
        try:
            await area.update(item_id, form.text, actor_of(request))
        except ValidationFailed as exc:
            return await listing(request, errors={str(item_id): _first(exc)}, status=422)
        return done("saved")

    @post("/{item_id:int}/delete", name=f"{area.key}-remove")
    async def remove(request: Request, item_id: FromPath[int]) -> Response:
        try:
            await area.delete(item_id, actor_of(request))
        except ValidationFailed as exc:
            return await listing(request, errors={str(item_id): _first(exc)}, status=422)
        return done("deleted")

    # ---------------------------------------------------------------- an area of list and form pages

    @get("/{item_id:int}/delete", name=f"{area.key}-delete-page")
    async def delete_page(request: Request, item_id: FromPath[int]) -> Response:
        """The delete question on a page of its own, for a browser without JavaScript (with
        it, the edit page's bottom sheet asks)."""
        item = await area.get(item_id)
        return render(request, DELETE, {"nav": "more", "area": area, "item": item})

    @post("/{item_id:int}/move", name=f"{area.key}-move")
    async def move(request: Request, item_id: FromPath[int]) -> Response:
        """The list's up / down buttons: the list back (HTMX), else the list page again."""
        form = await read_form(request, (MOVE,))
        await area.reorder(item_id, -1 if form.values["direction"] == "up" else 1, actor_of(request))
        if not is_fragment_request(request):
            return Redirect(area.prefix, status_code=303)
        return render(request, LIST, {"area": area, "rows": _rows(area, await area.list()), "moved": item_id},
                      block="rows")

    @get("/new", name=f"{area.key}-new")
    async def new_page(request: Request) -> Response:
        values = dict(area.defaults) if isinstance(area.defaults, dict) else await area.defaults()
        return await _form(area, request, None, values, {})

    @post("/new", name=f"{area.key}-create")
    async def create(request: Request) -> Response:
        form = await read_form(request, area.fields)
        try:
            await area.create(form.text, actor_of(request))
        except ValidationFailed as exc:
            return await _form(area, request, None, form.text, field_errors(exc.errors),
                               area.invalid_status)
        return done("created")

    @get("/{item_id:int}", name=f"{area.key}-edit")
    async def edit_page(request: Request, item_id: FromPath[int]) -> Response:
        item = await area.get(item_id)
        return await _form(area, request, item, area.values(item), {})

    @post("/{item_id:int}", name=f"{area.key}-update")
    async def update(request: Request, item_id: FromPath[int]) -> Response:
        item = await area.get(item_id)
        form = await read_form(request, area.fields)
        try:
            await area.update(item_id, form.text, actor_of(request))
        except ValidationFailed as exc:
            return await _form(area, request, item, form.text, field_errors(exc.errors),
                               area.invalid_status)
        return done("saved")

    @post("/{item_id:int}/delete", name=f"{area.key}-delete")
    async def delete(request: Request, item_id: FromPath[int]) -> Response:
        item = await area.get(item_id)
        try:
            await area.delete(item_id, actor_of(request))
        except ValidationFailed as exc:
            return await _form(area, request, item, area.values(item), {}, 422, delete_error=_first(exc))
        return done("deleted")

    @post("/{item_id:int}/active", name=f"{area.key}-active")
    async def toggle(request: Request, item_id: FromPath[int]) -> Response:
        """The list's on/off switch: the row back (HTMX), else the list again."""
        item = await area.get(item_id)
        values = area.values(item)
        values["active"] = "" if item["active"] else "1"
        try:
            await area.update(item_id, values, actor_of(request))
        except ValidationFailed as exc:  # e.g. a reward whose coupon type was switched off
            if not is_fragment_request(request):
                return await _form(area, request, item, values, field_errors(exc.errors), 422)
            return Response("", status_code=204, headers=toast_header(_first(exc)))
        if not is_fragment_request(request):
            return done("saved")
        row = next(r for r in _rows(area, await area.list()) if r["id"] == item_id)
        return render(request, LIST, {"area": area, "r": row}, block="row",
                      headers=toast_header(_("Switched on.") if row["active"] else _("Switched off.")))

    if area.inline:
        handlers = [list_page, add, rename, remove]
    else:
        handlers = [list_page, new_page, create, edit_page, update, delete_page, delete]
    if area.toggle:
        handlers.append(toggle)
    if area.reorder:
        handlers.append(move)
    return Router(path=area.prefix, route_handlers=handlers, guards=guards)
