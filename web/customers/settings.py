"""Admin settings: custom fields (define, edit, reorder, delete) and lifecycle thresholds."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from db.customers import fields as field_domain
from db.customers import lifecycle
from db.customers.tables import FIELD_KINDS
from db.errors import NotFound, ValidationFailed
from web.core.auth import role_required
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from web.core.templating import is_fragment_request, render

MESSAGES = {
    "field_created": "Field added.",
    "field_saved": "Field saved.",
    "field_deleted": "Field deleted.",
    "lifecycle_saved": "Thresholds saved; every customer's stage was recomputed.",
}


def _flashes(request: Request) -> list[tuple[str, str]]:
    key = request.query_params.get("msg")
    return [("success", _(MESSAGES[key]))] if key in MESSAGES else []


async def _field(field_id: int) -> dict:
    found = next((f for f in await field_domain.list_fields() if f["id"] == field_id), None)
    if found is None:
        raise NotFound()
    return found


class SettingsController(Controller):
    path = "/settings"
    guards = [role_required("admin")]

    # ------------------------------------------------------------ custom fields

    @get("/fields")
    async def fields_page(self, request: Request) -> Response:
        return render(request, "settings/fields.html", {
            "nav": "more", "fields": await field_domain.list_fields(), "flashes": _flashes(request),
        })

    @get("/fields/new")
    async def new_field_page(self, request: Request) -> Response:
        return render(request, "settings/field_form.html", {
            "nav": "more", "item": None, "kinds": FIELD_KINDS, "errors": {},
            "values": {"kind": "text"},
        })

    @post("/fields/new")
    async def create_field(self, request: Request) -> Response:
        form = await request.form()
        values = {k: str(form.get(k, ""))[:2000] for k in ("key", "label", "kind", "choices")}
        try:
            await field_domain.create_field(values["key"], values["label"], values["kind"],
                                            values["choices"])
        except ValidationFailed as exc:
            return render(request, "settings/field_form.html", {
                "nav": "more", "item": None, "kinds": FIELD_KINDS, "errors": field_errors(exc.errors),
                "values": values,
            })
        return Redirect("/settings/fields?msg=field_created", status_code=303)

    @get("/fields/{field_id:int}")
    async def edit_field_page(self, request: Request, field_id: FromPath[int]) -> Response:
        field = await _field(field_id)
        values = {"label": field["label"], "choices": "\n".join(field["choices"])}
        return render(request, "settings/field_form.html", {
            "nav": "more", "item": field, "kinds": FIELD_KINDS, "errors": {}, "values": values,
        })

    @post("/fields/{field_id:int}")
    async def update_field(self, request: Request, field_id: FromPath[int]) -> Response:
        field = await _field(field_id)
        form = await request.form()
        values = {k: str(form.get(k, ""))[:4000] for k in ("label", "choices")}
        try:
            await field_domain.update_field(field_id, values["label"], values["choices"])
        except ValidationFailed as exc:
            return render(request, "settings/field_form.html", {
                "nav": "more", "item": field, "kinds": FIELD_KINDS, "errors": field_errors(exc.errors),
                "values": values,
            })
        return Redirect("/settings/fields?msg=field_saved", status_code=303)

    @post("/fields/{field_id:int}/move")
    async def move_field(self, request: Request, field_id: FromPath[int]) -> Response:
        form = await request.form()
        delta = -1 if str(form.get("direction", "")) == "up" else 1
        await field_domain.move_field(field_id, delta)
        if not is_fragment_request(request):
            return Redirect("/settings/fields", status_code=303)
        return render(request, "settings/fields.html", {
            "nav": "more", "fields": await field_domain.list_fields(), "moved": field_id,
        }, block="fields")

    @get("/fields/{field_id:int}/delete")
    async def delete_field_page(self, request: Request, field_id: FromPath[int]) -> Response:
        return render(request, "settings/field_delete.html",
                      {"nav": "more", "item": await _field(field_id)})

    @post("/fields/{field_id:int}/delete")
    async def delete_field(self, request: Request, field_id: FromPath[int]) -> Response:
        await field_domain.delete_field(field_id)
        return Redirect("/settings/fields?msg=field_deleted", status_code=303)

    # ------------------------------------------------------------ lifecycle thresholds

    @get("/lifecycle")
    async def lifecycle_page(self, request: Request) -> Response:
        current = await lifecycle.thresholds()
        return render(request, "settings/lifecycle.html", {
            "nav": "more", "values": {k: str(v) for k, v in current.items()}, "errors": {},
            "flashes": _flashes(request),
        })

    @post("/lifecycle")
    async def save_lifecycle(self, request: Request) -> Response:
        form = await request.form()
        values = {k: str(form.get(k, ""))[:10].strip() for k in ("new_days", "active_days", "dormant_days")}
        try:
            await lifecycle.set_thresholds(values["new_days"], values["active_days"], values["dormant_days"])
        except ValidationFailed as exc:
            return render(request, "settings/lifecycle.html",
                          {"nav": "more", "values": values, "errors": field_errors(exc.errors)})
        await lifecycle.recompute_all()
        return Redirect("/settings/lifecycle?msg=lifecycle_saved", status_code=303)
