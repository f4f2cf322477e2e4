"""Tag pages: the list everyone sees, and for managers and admins the tag form with its rule
builder (add and remove conditions, a live count of matching customers) and deletion.

The rule builder works without JavaScript: "Add condition" and "Remove" are submit buttons
that post the form to /tags/builder, which renders the form again with the changed list of
conditions; with HTMX the same request swaps just the builder, and any change to the form
refreshes the count through /tags/preview.
"""

from __future__ import annotations

import re

from babel.numbers import format_decimal
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from db.customers import tags as tag_domain
from db.customers.rules import CONDITION_TYPES, MAX_CONDITIONS, OPS_BY_KIND
from db.customers.tables import LIFECYCLE_STAGES
from db.errors import NotFound, ValidationFailed
from web.core import i18n
from web.core.auth import actor_of, role_required, scope_of, staff_required
from web.core.forms import read, texts
from web.core.i18n import field_errors
from web.core.params import parse_id
from web.core.i18n import gettext as _
from web.core.templating import render
from db.orders.tables import CHANNELS
from db.customers.fields import list_fields

MANAGERS = role_required("manager", "admin")
CONDITION_KEY = re.compile(r"^c-(\d{1,2})-type$")
MESSAGES = {
    "created": "Tag created.",
    "saved": "Tag saved.",
    "deleted": "Tag deleted.",
}
DRAFT_KEYS = ("min", "max", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max",
              "names", "key", "op", "value", "when", "days")


def count_text(n: int) -> str:
    number = format_decimal(n, locale=i18n.locale_for(i18n.current_lang()))
    return i18n.ngettext("%(num)s customer matches", "%(num)s customers match", n) % {"num": number}


# ---------------------------------------------------------------- form <-> rule


def _list(form, key: str) -> list[str]:
    return [str(v) for v in form.getall(key, [])] if hasattr(form, "getall") else []


def draft_from_form(form) -> list[dict]:
    """The conditions as the person typed them (kept for re-rendering, even when invalid).

    Not read by web/core/forms: the conditions are numbered fields (c-0-type, c-1-…) whose
    count the person chooses, and a choice condition sends one name many times."""
    indices = sorted(int(m.group(1)) for k in form.keys() if (m := CONDITION_KEY.match(k)))
    draft = []
    for i in indices[:MAX_CONDITIONS]:
        p = f"c-{i}-"
        kind = str(form.get(p + "type", ""))
        if kind not in CONDITION_TYPES:
            continue
        cond = {"type": kind, **{k: str(form.get(p + k, ""))[:200].strip() for k in DRAFT_KEYS}}
        cond["choices"] = [v[:60] for v in _list(form, p + "choices")][:50]
        draft.append(cond)
    return draft


def _split_names(text: str) -> list[str]:
    return [n for n in re.split(r"[,，、;；\s]+", text) if n]


def _or_none(text: str):
    return text if text != "" else None


def rule_from_draft(draft: list[dict]) -> dict:
    """The rule parse_rule checks: one condition per draft entry, so errors keep their index."""
    out = []
    for d in draft:
        kind = d["type"]
        if kind == "lifecycle":
            out.append({"lifecycle": d["choices"]})
        elif kind == "rfm":
            spec = {}
            for letter in "rfm":
                lo, hi = d[f"{letter}_min"], d[f"{letter}_max"]
                if lo or hi:
                    spec[letter] = [_or_none(lo), _or_none(hi)]
            out.append({"rfm": spec})
        elif kind in ("total_spent", "orders_count"):
            out.append({kind: {"min": _or_none(d["min"]), "max": _or_none(d["max"])}})
        elif kind == "channel":
            out.append({"channel": d["choices"]})
        elif kind in ("province", "city"):
            out.append({kind: _split_names(d["names"])})
        elif kind == "birthday_month":
            out.append({"birthday_month": [int(m) for m in d["choices"] if m.isdecimal()]})
        elif kind == "custom":
            out.append({"custom": {"key": d["key"], "op": d["op"] or "eq", "value": d["value"]}})
        elif kind == "last_order":
            when = d["when"] if d["when"] in ("within_days", "over_days") else "within_days"
            out.append({"last_order": {when: _or_none(d["days"])}})
    return {"all": out}


def _blank(kind: str) -> dict:
    cond = {"type": kind, **{k: "" for k in DRAFT_KEYS}, "choices": []}
    cond["when"] = "within_days"
    return cond


def draft_from_rule(rule: dict | None) -> list[dict]:
    draft = []
    for cond in (rule or {}).get("all", []):
        (kind, spec), = cond.items()
        d = _blank(kind)
        if kind in ("lifecycle", "channel"):
            d["choices"] = list(spec)
        elif kind == "birthday_month":
            d["choices"] = [str(m) for m in spec]
        elif kind == "rfm":
            for letter, (lo, hi) in spec.items():
                d[f"{letter}_min"], d[f"{letter}_max"] = str(lo), str(hi)
        elif kind in ("total_spent", "orders_count"):
            d["min"] = "" if spec.get("min") is None else str(spec["min"])
            d["max"] = "" if spec.get("max") is None else str(spec["max"])
        elif kind in ("province", "city"):
            d["names"] = ", ".join(spec)
        elif kind == "custom":
            d.update(key=spec["key"], op=spec["op"], value=spec.get("value", ""))
        elif kind == "last_order":
            (when, days), = spec.items()
            d.update(when=when, days=str(days))
        draft.append(d)
    return draft


def condition_errors(errors: dict[str, str], count: int) -> list[dict[str, str]]:
    """errors keyed all.N / all.N.part -> per condition {part or "": message}, translated."""
    out: list[dict[str, str]] = [{} for _ in range(count)]
    for key, message in errors.items():
        parts = key.split(".")
        if parts[0] == "all" and len(parts) >= 2 and parts[1].isdecimal() and int(parts[1]) < count:
            part = parts[2] if len(parts) > 2 else ""
            out[int(parts[1])][part] = _(message)
    return out


TAG_FIELDS = texts("name", "color", "description", "kind", max_length=300)
BUILDER_FIELDS = texts("tag_id", "add", "remove", "add_type")


def _values(form) -> dict:
    return read(form, TAG_FIELDS).text


# ---------------------------------------------------------------- rendering


async def _form_context(request: Request, tag: dict | None, values: dict, draft: list[dict],
                        errors: dict, preview: bool = True) -> dict:
    fields = await list_fields()
    count, count_ok = None, False
    if preview and (values.get("kind") == "rule" or (tag and tag["is_rule"])) and draft:
        try:
            count = await tag_domain.count_matches(scope_of(request), rule_from_draft(draft))
            count_ok = True
        except ValidationFailed:
            pass
    return {
        "nav": "more", "tag": tag, "values": values, "draft": draft,
        "errors": field_errors(errors),
        "cond_errors": condition_errors(errors, len(draft)),
        "colors": tag_domain.TAG_COLORS, "condition_types": CONDITION_TYPES,
        "stages": LIFECYCLE_STAGES, "channels": CHANNELS, "fields": fields,
        "ops_by_kind": OPS_BY_KIND,
        "count": count, "count_ok": count_ok,
        "count_text": count_text(count) if count_ok else "",
        "flashes": [],
    }


def _is_rule(tag: dict | None, values: dict) -> bool:
    return bool(tag["is_rule"]) if tag else values.get("kind") == "rule"


async def _tag_or_404(request: Request, raw_id: str) -> dict | None:
    if not raw_id:
        return None
    tag_id = parse_id(raw_id)
    if tag_id is None:
        raise NotFound()
    return await tag_domain.get_tag(scope_of(request), tag_id)


class TagController(Controller):
    path = "/tags"
    guards = [staff_required]

    @get("/")
    async def list_tags(self, request: Request) -> Response:
        rows = await tag_domain.list_tags(scope_of(request))
        for row in rows:
            row["count_label"] = format_decimal(row["count"], locale=i18n.locale_for(i18n.current_lang()))
        key = request.query_params.get("msg")
        flashes = [("success", _(MESSAGES[key]))] if key in MESSAGES else []
        return render(request, "customers/tags/list.html", {"nav": "more", "rows": rows, "flashes": flashes})

    @get("/{tag_id:int}")
    async def tag_page(self, request: Request, tag_id: FromPath[int]) -> Response:
        tag = await tag_domain.get_tag(scope_of(request), tag_id)
        key = request.query_params.get("msg")
        flashes = [("success", _(MESSAGES[key]))] if key in MESSAGES else []
        return render(request, "customers/tags/detail.html", {
            "nav": "more", "tag": tag, "flashes": flashes, "fields": await list_fields(),
            "count_label": format_decimal(tag["count"], locale=i18n.locale_for(i18n.current_lang())),
        })

    @get("/new", guards=[MANAGERS])
    async def new_tag_page(self, request: Request) -> Response:
        kind = "rule" if request.query_params.get("kind") == "rule" else "manual"
        values = {"name": "", "color": "blue", "description": "", "kind": kind}
        context = await _form_context(request, None, values, [_blank("lifecycle")], {},
                                      preview=kind == "rule")
        return render(request, "customers/tags/form.html", context)

    @post("/new", guards=[MANAGERS])
    async def create_tag(self, request: Request) -> Response:
        form = await request.form()
        values, draft = _values(form), draft_from_form(form)
        values["kind"] = "rule" if values["kind"] == "rule" else "manual"
        rule = rule_from_draft(draft) if values["kind"] == "rule" else None
        try:
            tag_id = await tag_domain.create_tag(values["name"], values["color"],
                                                 values["description"], rule, actor=actor_of(request))
        except ValidationFailed as exc:
            context = await _form_context(request, None, values, draft, exc.errors)
            return render(request, "customers/tags/form.html", context)
        return Redirect(f"/tags/{tag_id}?msg=created", status_code=303)

    @get("/{tag_id:int}/edit", guards=[MANAGERS])
    async def edit_tag_page(self, request: Request, tag_id: FromPath[int]) -> Response:
        tag = await tag_domain.get_tag(scope_of(request), tag_id)
        values = {"name": tag["name"], "color": tag["color"], "description": tag["description"],
                  "kind": "rule" if tag["is_rule"] else "manual"}
        context = await _form_context(request, tag, values, draft_from_rule(tag["rule"]), {})
        return render(request, "customers/tags/form.html", context)

    @post("/{tag_id:int}/edit", guards=[MANAGERS])
    async def update_tag(self, request: Request, tag_id: FromPath[int]) -> Response:
        tag = await tag_domain.get_tag(scope_of(request), tag_id)
        form = await request.form()
        values, draft = _values(form), draft_from_form(form)
        values["kind"] = "rule" if tag["is_rule"] else "manual"
        rule = rule_from_draft(draft) if tag["is_rule"] else None
        try:
            await tag_domain.update_tag(tag_id, values["name"], values["color"],
                                        values["description"], rule, actor=actor_of(request))
        except ValidationFailed as exc:
            context = await _form_context(request, tag, values, draft, exc.errors)
            return render(request, "customers/tags/form.html", context)
        return Redirect(f"/tags/{tag_id}?msg=saved", status_code=303)

    @post("/builder", guards=[MANAGERS])
    async def builder(self, request: Request) -> Response:
        """Add or remove a condition, then show the form again (HTMX: just the builder)."""
        form = await request.form()
        asked = read(form, BUILDER_FIELDS).text
        tag = await _tag_or_404(request, asked["tag_id"])
        values, draft = _values(form), draft_from_form(form)
        values["kind"] = "rule" if _is_rule(tag, values) else "manual"
        add, remove = asked["add"], asked["remove"]
        if add == "1":
            kind = asked["add_type"]
            if kind in CONDITION_TYPES and len(draft) < MAX_CONDITIONS:
                draft.append(_blank(kind))
        elif remove.isdecimal() and int(remove) < len(draft):
            del draft[int(remove)]
        context = await _form_context(request, tag, values, draft, {})
        return render(request, "customers/tags/form.html", context, block="builder")

    @post("/preview", guards=[MANAGERS])
    async def preview(self, request: Request) -> Response:
        """The live count of customers the rule being edited matches, in the viewer's scope."""
        form = await request.form()
        tag = await _tag_or_404(request, read(form, BUILDER_FIELDS).text["tag_id"])
        values, draft = _values(form), draft_from_form(form)
        values["kind"] = "rule" if _is_rule(tag, values) else "manual"
        context = await _form_context(request, tag, values, draft, {})
        return render(request, "customers/tags/form.html", context, block="count")

    @get("/{tag_id:int}/delete", guards=[MANAGERS])
    async def delete_page(self, request: Request, tag_id: FromPath[int]) -> Response:
        tag = await tag_domain.get_tag(scope_of(request), tag_id)
        return render(request, "customers/tags/delete.html", {"nav": "more", "tag": tag})

    @post("/{tag_id:int}/delete", guards=[MANAGERS])
    async def delete_tag(self, request: Request, tag_id: FromPath[int]) -> Response:
        await tag_domain.delete_tag(tag_id, actor=actor_of(request))
        return Redirect("/tags?msg=deleted", status_code=303)
