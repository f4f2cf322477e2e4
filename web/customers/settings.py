"""Admin settings: custom fields (a settings area, web/core/settings_area.py: define, edit,
reorder, delete) and the lifecycle thresholds (a page of its own)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from db.customers import fields as field_domain
from db.customers import lifecycle
from db.customers.tables import FIELD_KINDS
from db.errors import NotFound, ValidationFailed
from web.core import settings_area
from web.core.auth import role_required
from web.core.forms import Field, read_form
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from db.i18n import N_
from web.core.settings_area import Area, Group, Row
from web.core.templating import render, shop_labels

MESSAGES = {"lifecycle_saved": "Thresholds saved; every customer's stage was recomputed."}
GUARDS = [role_required("admin")]
LIFECYCLE_FIELDS = tuple(Field(name, max_length=10) for name in ("new_days", "active_days", "dormant_days"))


def _flashes(request: Request) -> list[tuple[str, str]]:
    key = request.query_params.get("msg")
    return [("success", _(MESSAGES[key]))] if key in MESSAGES else []


# ---------------------------------------------------------------- custom fields


async def _field(field_id: int) -> dict:
    found = next((f for f in await field_domain.list_fields() if f["id"] == field_id), None)
    if found is None:
        raise NotFound()
    return found


def _field_row(f: dict) -> Row:
    kinds = shop_labels().field_kinds
    return Row(f["label"], [", ".join(f["choices"])] if f["kind"] == "choice" else [],
               [(kinds.get(f["kind"], f["kind"]), "neutral")], code=f["key"])


async def _field_context(item: dict | None, values: dict) -> dict:
    kinds = shop_labels().field_kinds
    return {"flags": {"has_choices": item is None or item["kind"] == "choice"},
            "options": {"kinds": [(k, kinds[k]) for k in FIELD_KINDS], "kind_names": dict(kinds)}}


FIELDS = Area(
    prefix="/settings/fields", key="field", title=N_("Custom fields"),
    subtitle=N_("Extra fields on every customer: shown on the card, used in rule tags, imported and exported."),
    new_title=N_("New field"), edit_title=N_("Edit field"), save_label=N_("Save field"),
    delete_label=N_("Delete field"),
    delete_note=N_("Every customer's value for this field is deleted too, and rule tags that use it stop "
                   "matching on it. This cannot be undone."),
    fields=(
        Field("label", N_("Label"), required=True, hint=N_("What staff see, e.g. Skin type"),
              attrs={"maxlength": 60, "autocomplete": "off"}),
        Field("key", N_("Key"), kind="fixed", group="fixed", unless="is_new", attrs={"class": "num"}),
        Field("kind", N_("Kind"), kind="fixed", group="fixed", unless="is_new", options="kind_names"),
        Field("key", N_("Key"), required=True, when="is_new",
              hint=N_("For import, export, the API and rules: lowercase letters, digits and _, e.g. skin_type"),
              attrs={"maxlength": 40, "autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
        Field("kind", N_("Kind"), kind="choice", style="segmented", options="kinds", when="is_new"),
        Field("choices", N_("Choices"), kind="textarea", max_length=4000, show="field-choices", when="has_choices",
              hint=N_("For a choice field: one option per line (or separated by commas)."),
              placeholder=N_("Dry\nOily\nCombination"), attrs={"rows": 4}),
    ),
    groups={"fixed": Group("props", hint=N_("The key and kind stay fixed so stored values keep their meaning."),
                           unless="is_new")},
    row=_field_row, list=field_domain.list_fields, get=_field,
    values=lambda f: {"label": f["label"], "choices": "\n".join(f["choices"])},
    create=lambda v, actor: field_domain.create_field(v["key"], v["label"], v["kind"], v["choices"]),
    update=lambda field_id, v, actor: field_domain.update_field(field_id, v["label"], v["choices"]),
    delete=lambda field_id, actor: field_domain.delete_field(field_id),
    reorder=lambda field_id, delta, actor: field_domain.move_field(field_id, delta),
    messages={"created": N_("Field added."), "saved": N_("Field saved."), "deleted": N_("Field deleted.")},
    defaults={"kind": "text"}, form_context=_field_context, form_class="field-form",
    rows_id="fields", list_class="", row_class="field-row", invalid_status=200,
    empty=(N_("No custom fields yet"), N_("Add fields such as skin type, shoe size or member since; staff fill "
                                          "them in on the customer card."), N_("New field"), "note"),
    item_title=lambda f: f["label"],
)

ROUTERS = [settings_area.router(FIELDS, GUARDS)]


class SettingsController(Controller):
    path = "/settings"
    guards = GUARDS

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
        values = {k: v.strip() for k, v in (await read_form(request, LIFECYCLE_FIELDS)).text.items()}
        try:
            await lifecycle.set_thresholds(values["new_days"], values["active_days"], values["dormant_days"])
        except ValidationFailed as exc:
            return render(request, "settings/lifecycle.html",
                          {"nav": "more", "values": values, "errors": field_errors(exc.errors)})
        await lifecycle.recompute_all()
        return Redirect("/settings/lifecycle?msg=lifecycle_saved", status_code=303)
