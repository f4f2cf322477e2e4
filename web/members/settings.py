"""Members' settings (managers and admins): tiers, coupon types, rewards (each a settings area,
web/core/settings_area.py) and the points rules (a page of its own).

Thin, like the other controllers: the areas name db/members/catalogue's functions and their
form's fields; the points rules are read, parsed by db/members/config and saved.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect

from db.errors import ValidationFailed
from db.members import catalogue, config
from web.core import settings_area
from web.core.auth import actor_of, role_required
from web.core.forms import Field, read_form, texts
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from web.core.i18n import ngettext
from web.core.params import parse_id
from db.i18n import N_
from web.core.settings_area import Area, Group, Row
from web.core.templating import local_date, money, points, render, shop_labels

MESSAGES = {"points_saved": "Points rules saved."}
POINTS_FIELDS = texts("points_per_yuan", "signup_bonus", "birthday_bonus", "expiry", "expiry_months",
                      "manager_above", "auto_enroll", "evaluate_on", "grace_days")
GUARDS = [role_required("manager", "admin")]


def _flashes(msg: str | None) -> list[tuple[str, str]]:
    return [("success", _(MESSAGES[msg]))] if msg in MESSAGES else []


# ---------------------------------------------------------------- tiers


def _tier_row(t: dict) -> Row:
    labels = shop_labels()
    badges = [(labels.tier_colors.get(t["color"], t["color"]), labels.tier_tones.get(t["color"], "neutral"))]
    if t["is_base"]:
        badges.append((_("Base tier"), "neutral"))
        reach = _("Every member")
    else:
        reach = _(" or ").join(part for part in (
            _("spend ≥ %(amount)s") % {"amount": money(t["min_spend_fen"])} if t["min_spend_fen"] is not None else "",
            _("points ≥ %(n)s") % {"n": t["min_points"]} if t["min_points"] is not None else "") if part)
    return Row(t["name"], [reach, _("points %(m)s×") % {"m": t["multiplier"]}], badges, extra=t["benefits"],
               meta=ngettext("%(num)d member", "%(num)d members", t["members"]) % {"num": t["members"]})


async def _tier_defaults() -> dict:
    tiers = await catalogue.list_tiers()
    return {"position": str(max((t["position"] for t in tiers), default=0) + 1), "multiplier": "1", "color": "blue"}


async def _tier_context(item: dict | None, values: dict) -> dict:
    labels = shop_labels()
    tiers = await catalogue.list_tiers()
    full = next((t for t in tiers if t["id"] == item["id"]), None) if item else None
    colors = [(c, labels.tier_colors[c], labels.tier_tones[c]) for c in catalogue.TIER_COLORS]
    return {"item": full or item, "flags": {"is_base": bool(full and full["is_base"])}, "options": {"color": colors}}


def _tier_blocked(item: dict, extra: dict) -> str | None:
    if item.get("deletable"):
        return None
    return _("The base tier cannot be deleted.") if item.get("is_base") else _(
        "Members hold this tier, so it cannot be deleted.")


TIERS = Area(
    prefix="/settings/tiers", key="tier", title=N_("Member tiers"),
    subtitle=N_("A member reaches a tier when any of its thresholds is met over the last 12 months. "
                "Everyone holds the base tier."),
    new_title=N_("New tier"), save_label=N_("Save tier"), delete_label=N_("Delete tier"),
    delete_note=N_("No member holds it. Its history in members' tier changes stays, without the name."),
    fields=(
        Field("name", N_("Name"), required=True, max_length=2000, group="top",
              attrs={"maxlength": 20, "autocomplete": "off"}),
        Field("position", N_("Position"), required=True, hint=N_("1 is the lowest tier above the base one."),
              group="top", unless="is_base", attrs={"inputmode": "numeric", "maxlength": 2}),
        Field("base_position", N_("Position"), kind="note", hint=N_("0: the base tier, held by every member."),
              group="top", when="is_base"),
        Field("min_spend", N_("Paid spend (¥)"), kind="money", group="thresholds"),
        Field("min_points", N_("Points earned"), group="thresholds",
              attrs={"inputmode": "numeric", "maxlength": 10, "autocomplete": "off"}),
        Field("multiplier", N_("Earn multiplier"), required=True,
              hint=N_("Points from orders × this number, e.g. 1.5 (from 1 to 10)."),
              attrs={"inputmode": "decimal", "maxlength": 5}),
        Field("benefits", N_("Benefits"), kind="textarea",
              hint=N_("What members of this tier get; members see it on their page."),
              attrs={"rows": 3, "maxlength": 500}),
        Field("color", N_("Colour"), kind="choice", style="chips", options="color"),
    ),
    groups={"thresholds": Group("member-thresholds", N_("Thresholds over the last 12 months"),
                                N_("Either one is enough. Leave one empty to not use it. "
                                   "Each must be higher than the tier below."), unless="is_base")},
    row=_tier_row, list=catalogue.list_tiers, get=catalogue.get_tier, values=catalogue.tier_values,
    create=catalogue.create_tier, update=catalogue.update_tier, delete=catalogue.delete_tier,
    messages={"created": N_("Tier added."), "saved": N_("Tier saved."), "deleted": N_("Tier deleted.")},
    defaults=_tier_defaults, form_context=_tier_context, row_id="tier-",
    note=(N_("Earn multipliers apply to points from paid orders. Points rules (per yuan, bonuses, expiry) "
             "are under Points rules."), N_("Points rules"), "/settings/points"),
    item_subtitle=lambda t: ngettext("%(num)d member holds it", "%(num)d members hold it",
                                     t.get("members", 0)) % {"num": t.get("members", 0)},
    delete_blocked=_tier_blocked,
)


# ---------------------------------------------------------------- coupon types


def _coupon_row(t: dict) -> Row:
    off = (_("%(amount)s off") % {"amount": money(t["amount_off_fen"])} if t["kind"] == "amount"
           else _("%(n)s%% off") % {"n": t["percent_off"]})
    parts = [off]
    if t["min_spend_fen"]:
        parts.append(_("min. spend %(amount)s") % {"amount": money(t["min_spend_fen"])})
    parts.append(ngettext("valid %(num)d day", "valid %(num)d days", t["valid_days"]) % {"num": t["valid_days"]}
                 if t["valid_days"] else _("until %(date)s") % {"date": local_date(t["valid_until"])})
    parts.append(ngettext("%(num)d issued", "%(num)d issued", t["issued"]) % {"num": t["issued"]})
    return Row(t["name"], parts, [] if t["active"] else [(_("Off"), "neutral")])


async def _coupon_context(item: dict | None, values: dict) -> dict:
    return {"options": {"kind": list(shop_labels().coupon_kinds.items())}}


COUPONS = Area(
    prefix="/settings/coupons", key="coupon", title=N_("Coupon types"),
    subtitle=N_("Coupons staff issue to members, or that a reward gives. Each coupon is used once."),
    new_title=N_("New coupon type"), save_label=N_("Save coupon type"), delete_label=N_("Delete coupon type"),
    delete_note=N_("Only a type that was never issued can be deleted; otherwise switch it off."),
    fields=(
        Field("name", N_("Name"), required=True, placeholder=N_("e.g. ¥20 off from ¥200"),
              attrs={"maxlength": 60, "autocomplete": "off"}),
        Field("kind", N_("Discount"), kind="choice", style="segmented", options="kind"),
        Field("amount_off", N_("Amount off (¥)"), kind="money", show="only-amount"),
        Field("percent_off", N_("Percent off (1–99)"), show="only-percent",
              attrs={"inputmode": "numeric", "maxlength": 2, "autocomplete": "off"}),
        Field("min_spend", N_("Minimum spend (¥)"), kind="money", hint=N_("Empty: no minimum.")),
        Field("validity", N_("Valid"), kind="choice", style="segmented",
              choices=(("days", N_("Days from issue")), ("window", N_("Fixed dates")))),
        Field("valid_days", N_("Days from issue"), show="only-days",
              attrs={"inputmode": "numeric", "maxlength": 4, "autocomplete": "off"}),
        Field("valid_from", N_("First day"), kind="date", hint=N_("Empty: from issue."), group="window"),
        Field("valid_until", N_("Last day"), kind="date", group="window"),
        Field("active", N_("Active: staff and rewards can issue it"), kind="checkbox"),
    ),
    groups={"window": Group("form-grid only-window")},
    row=_coupon_row, list=catalogue.list_coupon_types, get=catalogue.get_coupon_type,
    values=catalogue.coupon_type_values, create=catalogue.create_coupon_type,
    update=catalogue.update_coupon_type, delete=catalogue.delete_coupon_type,
    messages={"created": N_("Coupon type added."), "saved": N_("Coupon type saved."),
              "deleted": N_("Coupon type deleted.")},
    defaults={"kind": "amount", "validity": "days", "valid_days": "30", "active": "1"},
    form_context=_coupon_context, row_id="coupon-type-", toggle=True, form_class="coupon-form",
    empty=(N_("No coupon types yet"), N_("Add one, such as ¥20 off from ¥200 or 10%% off, valid 30 days."),
           N_("New coupon type"), "tag"),
)


# ---------------------------------------------------------------- rewards


def _reward_row(r: dict) -> Row:
    badges = [] if r["active"] else [(_("Off"), "neutral")]
    if r["stock"] == 0:
        badges.append((_("Out of stock"), "amber"))
    parts = [_("unlimited") if r["stock"] is None else ngettext("%(num)d left", "%(num)d left", r["stock"]) % {
        "num": r["stock"]}]
    if r["coupon_type_name"]:
        parts.append(_("issues %(name)s") % {"name": r["coupon_type_name"]})
    if r["valid_until"]:
        parts.append(_("until %(date)s") % {"date": local_date(r["valid_until"])})
    parts.append(ngettext("%(num)d redeemed", "%(num)d redeemed", r["redeemed"]) % {"num": r["redeemed"]})
    return Row(r["name"], parts, badges, strong=points(r["points_cost"]))


async def _reward_context(item: dict | None, values: dict) -> dict:
    current = parse_id(values.get("coupon_type_id"))
    types = [t for t in await catalogue.list_coupon_types() if t["active"] or t["id"] == current]
    return {"options": {"coupon_type_id": [(t["id"], t["name"] + ("" if t["active"] else " · " + _("Off")))
                                           for t in types]}}


REWARDS = Area(
    prefix="/settings/rewards", key="reward", title=N_("Rewards"),
    subtitle=N_("What members can redeem their points for: gifts, or a coupon."),
    new_title=N_("New reward"), save_label=N_("Save reward"), delete_label=N_("Delete reward"),
    delete_note=N_("Only a reward nobody redeemed can be deleted; otherwise switch it off."),
    fields=(
        Field("name", N_("Name"), required=True, placeholder=N_("e.g. Travel mug"),
              attrs={"maxlength": 60, "autocomplete": "off"}),
        Field("description", N_("Description"), kind="textarea", attrs={"rows": 2, "maxlength": 500}),
        Field("points_cost", N_("Points"), required=True, group="numbers",
              attrs={"inputmode": "numeric", "maxlength": 10, "autocomplete": "off"}),
        Field("stock_was", kind="hidden", group="numbers"),
        Field("stock", N_("Stock"), hint=N_("Empty: unlimited."), group="numbers",
              attrs={"inputmode": "numeric", "maxlength": 8, "autocomplete": "off"}),
        Field("valid_from", N_("First day"), kind="date", hint=N_("Empty: from now."), group="numbers"),
        Field("valid_until", N_("Last day"), kind="date", hint=N_("Empty: no end."), group="numbers"),
        Field("coupon_type_id", N_("Coupon it issues"), kind="choice", options="coupon_type_id",
              placeholder=N_("None: a gift handed over in store"),
              hint=N_("Redeeming it issues one coupon of this type to the member."),
              attrs={"hint_empty": N_("Add coupon types under Coupon types first.")}),
        Field("active", N_("Active: members can redeem it"), kind="checkbox"),
    ),
    groups={"numbers": Group()},
    row=_reward_row, list=catalogue.list_rewards, get=catalogue.get_reward, values=catalogue.reward_values,
    create=catalogue.create_reward, update=catalogue.update_reward, delete=catalogue.delete_reward,
    messages={"created": N_("Reward added."), "saved": N_("Reward saved."), "deleted": N_("Reward deleted.")},
    defaults={"active": "1"}, form_context=_reward_context, row_id="reward-", toggle=True,
    empty=(N_("No rewards yet"), N_("Add a gift or a coupon members can redeem with points."),
           N_("New reward"), "sparkle"),
)

ROUTERS = [settings_area.router(area, GUARDS) for area in (TIERS, COUPONS, REWARDS)]


class MemberSettingsController(Controller):
    path = "/settings"
    guards = GUARDS

    # ------------------------------------------------------------ points rules

    @get("/points")
    async def points_page(self, request: Request, msg: FromQuery[str | None] = None) -> Response:
        cfg = await config.load()
        values = {f.name: getattr(cfg, f.name) for f in POINTS_FIELDS}
        values = {k: ("1" if v else "") if isinstance(v, bool) else str(v) for k, v in values.items()}
        return render(request, "settings/points.html", {
            "nav": "more", "values": values, "errors": {}, "flashes": _flashes(msg)})

    @post("/points")
    async def save_points(self, request: Request) -> Response:
        values = (await read_form(request, POINTS_FIELDS)).text
        try:
            await config.save(config.parse(values), actor_of(request))
        except ValidationFailed as exc:
            return render(request, "settings/points.html", {
                "nav": "more", "values": values, "errors": field_errors(exc.errors)}, status=422)
        return Redirect("/settings/points?msg=points_saved", status_code=303)
