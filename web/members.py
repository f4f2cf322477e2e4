"""Members, the staff side: the catalogue and points settings (managers and admins), the 360
card's member section with its quick actions, the points history, and scanning a member card.

Thin, like the other controllers: parse the form, authorise (role guards; the customer scope
through db/customers/service.get_customer, which every card route calls first), call
db/members, render. Each quick action is a real form that works without JavaScript (a page
with its sheet open, then Post/Redirect/Get); with HTMX the sheet's form posts in place and
the response carries the refreshed form plus the member section (and the card's figures) out
of band, with a toast.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from jinja2_fragments import render_blocks
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from db.customers import card as card_view
from db.customers import service as customers
from db.engine import reading
from db.errors import Conflict, Forbidden, NotFound, ValidationFailed
from db.members import catalogue, config, coupons, ledger, membership
from db.members.qr_card import read_card_payload
from db.members.tables import CONSENT_CHANNELS
from web.auth import actor_of, role_required, scope_of, staff_required
from web.i18n import field_errors
from web.i18n import gettext as _
from web.params import parse_id
from web.templating import VARY, base_context, env, is_fragment_request, render, toast_header

MESSAGES = {
    "tier_created": "Tier added.", "tier_saved": "Tier saved.", "tier_deleted": "Tier deleted.",
    "reward_created": "Reward added.", "reward_saved": "Reward saved.", "reward_deleted": "Reward deleted.",
    "coupon_created": "Coupon type added.", "coupon_saved": "Coupon type saved.",
    "coupon_deleted": "Coupon type deleted.", "points_saved": "Points rules saved.",
}
POINTS_FIELDS = ("points_per_yuan", "signup_bonus", "birthday_bonus", "expiry", "expiry_months",
                 "manager_above", "auto_enroll", "evaluate_on", "grace_days")


def _flashes(msg: str | None) -> list[tuple[str, str]]:
    return [("success", _(MESSAGES[msg]))] if msg in MESSAGES else []


def _form_values(form, keys) -> dict:
    return {k: str(form.get(k, ""))[:2000] for k in keys}


def _delete_error(exc: ValidationFailed) -> str:
    return next(iter(field_errors(exc.errors).values()))


# ---------------------------------------------------------------- settings: tiers, rewards, coupons, points


class MemberSettingsController(Controller):
    path = "/settings"
    guards = [role_required("manager", "admin")]

    # ------------------------------------------------------------ tiers

    async def _tier_form(self, request: Request, item: dict | None, values: dict, errors: dict,
                         status: int = 200, delete_error: str | None = None) -> Response:
        tiers = await catalogue.list_tiers()
        is_base = bool(item) and item["id"] == tiers[0]["id"]
        if item:
            item = next(t for t in tiers if t["id"] == item["id"])
        return render(request, "settings/tier_form.html", {
            "nav": "more", "item": item, "is_base": is_base, "values": values, "errors": errors,
            "colors": catalogue.TIER_COLORS, "tiers": tiers, "delete_error": delete_error,
            "sheet": "delete" if delete_error else None}, status=status)

    @get("/tiers")
    async def tiers_page(self, request: Request, msg: FromQuery[str | None] = None) -> Response:
        return render(request, "settings/tiers.html", {
            "nav": "more", "tiers": await catalogue.list_tiers(), "flashes": _flashes(msg)})

    @get("/tiers/new")
    async def new_tier_page(self, request: Request) -> Response:
        tiers = await catalogue.list_tiers()
        position = str(max((t["position"] for t in tiers), default=0) + 1)
        return await self._tier_form(request, None, {"position": position, "multiplier": "1", "color": "blue"}, {})

    @post("/tiers/new")
    async def create_tier(self, request: Request) -> Response:
        values = _form_values(await request.form(), catalogue.TIER_FIELDS)
        try:
            await catalogue.create_tier(values, actor_of(request))
        except ValidationFailed as exc:
            return await self._tier_form(request, None, values, field_errors(exc.errors), 422)
        return Redirect("/settings/tiers?msg=tier_created", status_code=303)

    @get("/tiers/{tier_id:int}")
    async def edit_tier_page(self, request: Request, tier_id: FromPath[int]) -> Response:
        item = await catalogue.get_tier(tier_id)
        return await self._tier_form(request, item, catalogue.tier_values(item), {})

    @post("/tiers/{tier_id:int}")
    async def update_tier(self, request: Request, tier_id: FromPath[int]) -> Response:
        item = await catalogue.get_tier(tier_id)
        values = _form_values(await request.form(), catalogue.TIER_FIELDS)
        try:
            await catalogue.update_tier(tier_id, values, actor_of(request))
        except ValidationFailed as exc:
            return await self._tier_form(request, item, values, field_errors(exc.errors), 422)
        return Redirect("/settings/tiers?msg=tier_saved", status_code=303)

    @post("/tiers/{tier_id:int}/delete")
    async def delete_tier(self, request: Request, tier_id: FromPath[int]) -> Response:
        item = await catalogue.get_tier(tier_id)
        try:
            await catalogue.delete_tier(tier_id, actor_of(request))
        except ValidationFailed as exc:
            return await self._tier_form(request, item, catalogue.tier_values(item), {}, 422,
                                         delete_error=_delete_error(exc))
        return Redirect("/settings/tiers?msg=tier_deleted", status_code=303)

    # ------------------------------------------------------------ coupon types

    async def _coupon_form(self, request: Request, item: dict | None, values: dict, errors: dict,
                           status: int = 200, delete_error: str | None = None) -> Response:
        return render(request, "settings/coupon_form.html", {
            "nav": "more", "item": item, "values": values, "errors": errors, "delete_error": delete_error,
            "sheet": "delete" if delete_error else None}, status=status)

    @get("/coupons")
    async def coupons_page(self, request: Request, msg: FromQuery[str | None] = None) -> Response:
        return render(request, "settings/coupons.html", {
            "nav": "more", "coupon_types": await catalogue.list_coupon_types(), "flashes": _flashes(msg)})

    @get("/coupons/new")
    async def new_coupon_page(self, request: Request) -> Response:
        return await self._coupon_form(request, None, {"kind": "amount", "validity": "days", "valid_days": "30",
                                                       "active": "1"}, {})

    @post("/coupons/new")
    async def create_coupon(self, request: Request) -> Response:
        values = _form_values(await request.form(), catalogue.COUPON_FIELDS)
        try:
            await catalogue.create_coupon_type(values, actor_of(request))
        except ValidationFailed as exc:
            return await self._coupon_form(request, None, values, field_errors(exc.errors), 422)
        return Redirect("/settings/coupons?msg=coupon_created", status_code=303)

    @get("/coupons/{type_id:int}")
    async def edit_coupon_page(self, request: Request, type_id: FromPath[int]) -> Response:
        item = await catalogue.get_coupon_type(type_id)
        return await self._coupon_form(request, item, catalogue.coupon_type_values(item), {})

    @post("/coupons/{type_id:int}")
    async def update_coupon(self, request: Request, type_id: FromPath[int]) -> Response:
        item = await catalogue.get_coupon_type(type_id)
        values = _form_values(await request.form(), catalogue.COUPON_FIELDS)
        try:
            await catalogue.update_coupon_type(type_id, values, actor_of(request))
        except ValidationFailed as exc:
            return await self._coupon_form(request, item, values, field_errors(exc.errors), 422)
        return Redirect("/settings/coupons?msg=coupon_saved", status_code=303)

    @post("/coupons/{type_id:int}/active")
    async def toggle_coupon(self, request: Request, type_id: FromPath[int]) -> Response:
        """The list's on/off switch: the row back (HTMX), else the list again."""
        item = await catalogue.get_coupon_type(type_id)
        values = catalogue.coupon_type_values(item)
        values["active"] = "" if item["active"] else "1"
        await catalogue.update_coupon_type(type_id, values, actor_of(request))
        if not is_fragment_request(request):
            return Redirect("/settings/coupons?msg=coupon_saved", status_code=303)
        row = next(t for t in await catalogue.list_coupon_types() if t["id"] == type_id)
        return render(request, "settings/coupons.html", {"t": row}, block="coupon_row",
                      headers=toast_header(_("Switched on.") if row["active"] else _("Switched off.")))

    @post("/coupons/{type_id:int}/delete")
    async def delete_coupon(self, request: Request, type_id: FromPath[int]) -> Response:
        item = await catalogue.get_coupon_type(type_id)
        try:
            await catalogue.delete_coupon_type(type_id, actor_of(request))
        except ValidationFailed as exc:
            return await self._coupon_form(request, item, catalogue.coupon_type_values(item), {}, 422,
                                           delete_error=_delete_error(exc))
        return Redirect("/settings/coupons?msg=coupon_deleted", status_code=303)

    # ------------------------------------------------------------ rewards

    async def _reward_form(self, request: Request, item: dict | None, values: dict, errors: dict,
                           status: int = 200, delete_error: str | None = None) -> Response:
        types = await catalogue.list_coupon_types()
        current = parse_id(values.get("coupon_type_id"))
        choices = [t for t in types if t["active"] or t["id"] == current]
        return render(request, "settings/reward_form.html", {
            "nav": "more", "item": item, "values": values, "errors": errors, "coupon_types": choices,
            "delete_error": delete_error, "sheet": "delete" if delete_error else None}, status=status)

    @get("/rewards")
    async def rewards_page(self, request: Request, msg: FromQuery[str | None] = None) -> Response:
        return render(request, "settings/rewards.html", {
            "nav": "more", "rewards": await catalogue.list_rewards(), "flashes": _flashes(msg)})

    @get("/rewards/new")
    async def new_reward_page(self, request: Request) -> Response:
        return await self._reward_form(request, None, {"active": "1"}, {})

    @post("/rewards/new")
    async def create_reward(self, request: Request) -> Response:
        values = _form_values(await request.form(), catalogue.REWARD_FIELDS)
        try:
            await catalogue.create_reward(values, actor_of(request))
        except ValidationFailed as exc:
            return await self._reward_form(request, None, values, field_errors(exc.errors), 422)
        return Redirect("/settings/rewards?msg=reward_created", status_code=303)

    @get("/rewards/{reward_id:int}")
    async def edit_reward_page(self, request: Request, reward_id: FromPath[int]) -> Response:
        item = await catalogue.get_reward(reward_id)
        return await self._reward_form(request, item, catalogue.reward_values(item), {})

    @post("/rewards/{reward_id:int}")
    async def update_reward(self, request: Request, reward_id: FromPath[int]) -> Response:
        item = await catalogue.get_reward(reward_id)
        values = _form_values(await request.form(), catalogue.REWARD_FIELDS)
        try:
            await catalogue.update_reward(reward_id, values, actor_of(request))
        except ValidationFailed as exc:
            return await self._reward_form(request, item, values, field_errors(exc.errors), 422)
        return Redirect("/settings/rewards?msg=reward_saved", status_code=303)

    @post("/rewards/{reward_id:int}/active")
    async def toggle_reward(self, request: Request, reward_id: FromPath[int]) -> Response:
        item = await catalogue.get_reward(reward_id)
        values = catalogue.reward_values(item)
        values["active"] = "" if item["active"] else "1"
        try:
            await catalogue.update_reward(reward_id, values, actor_of(request))
        except ValidationFailed as exc:  # its coupon type was switched off meanwhile
            if not is_fragment_request(request):
                return await self._reward_form(request, item, values, field_errors(exc.errors), 422)
            return Response("", status_code=204, headers=toast_header(_delete_error(exc)))
        if not is_fragment_request(request):
            return Redirect("/settings/rewards?msg=reward_saved", status_code=303)
        row = next(r for r in await catalogue.list_rewards() if r["id"] == reward_id)
        return render(request, "settings/rewards.html", {"r": row}, block="reward_row",
                      headers=toast_header(_("Switched on.") if row["active"] else _("Switched off.")))

    @post("/rewards/{reward_id:int}/delete")
    async def delete_reward(self, request: Request, reward_id: FromPath[int]) -> Response:
        item = await catalogue.get_reward(reward_id)
        try:
            await catalogue.delete_reward(reward_id, actor_of(request))
        except ValidationFailed as exc:
            return await self._reward_form(request, item, catalogue.reward_values(item), {}, 422,
                                           delete_error=_delete_error(exc))
        return Redirect("/settings/rewards?msg=reward_deleted", status_code=303)

    # ------------------------------------------------------------ points rules

    @get("/points")
    async def points_page(self, request: Request, msg: FromQuery[str | None] = None) -> Response:
        cfg = await config.load()
        values = {k: getattr(cfg, k) for k in POINTS_FIELDS}
        values = {k: ("1" if v else "") if isinstance(v, bool) else str(v) for k, v in values.items()}
        return render(request, "settings/points.html", {
            "nav": "more", "values": values, "errors": {}, "flashes": _flashes(msg)})

    @post("/points")
    async def save_points(self, request: Request) -> Response:
        values = _form_values(await request.form(), POINTS_FIELDS)
        try:
            await config.save(config.parse(values), actor_of(request))
        except ValidationFailed as exc:
            return render(request, "settings/points.html", {
                "nav": "more", "values": values, "errors": field_errors(exc.errors)}, status=422)
        return Redirect("/settings/points?msg=points_saved", status_code=303)


# ---------------------------------------------------------------- the 360 card's member section

SECTION = "members/_card_section.html"
CARD = "customers/detail.html"
RECENT_ENTRIES = 5


async def card_section(customer_id: int) -> dict:
    """What the member section shows, read on one connection: the member, where they stand,
    open coupons, the last few points entries and the coupon types staff may issue."""
    cfg = await config.load()
    async with reading():
        member = await membership.member_for_customer(customer_id)
        if member is None:
            return {"customer_id": customer_id, "member": None}
        summary = await membership.summary(member["id"])
        open_coupons = await coupons.for_member(member["id"], limit=20)
        entries, more = await ledger.history(member["id"], limit=RECENT_ENTRIES)
        types = await catalogue.list_coupon_types(active_only=True)
    return {
        "customer_id": customer_id, "member": member, "summary": summary, "coupons": open_coupons,
        "entries": entries, "more_history": more is not None, "coupon_types": types,
        "manager_above": cfg.manager_above, "new_key": secrets.token_urlsafe(16),
    }


async def add_member_section(page: dict, customer_id: int) -> None:
    """Put the member section on a card page and fill the card's points and tier slots."""
    section = await card_section(customer_id)
    page["member_section"] = section
    if section["member"]:
        page["figures"] = {**page["figures"], "points_balance": section["summary"].balance,
                           "tier": section["summary"].tier}


def _section_context(section: dict, **extra) -> dict:
    return {"member_section": section, "values": {}, "errors": {}, "sheet": None, "oob": [],
            "coupon": None, **extra}


async def _customer(request: Request, customer_id: int) -> dict:
    """The customer, through the scope (NotFound, a 404, for a customer the person may not see)."""
    return await customers.get_customer(scope_of(request), customer_id)


async def _member_of(request: Request, customer_id: int) -> dict:
    await _customer(request, customer_id)
    member = await membership.member_for_customer(customer_id)
    if member is None:
        raise NotFound()
    return member


async def _full_card(request: Request, customer_id: int, **extra) -> Response:
    from web.customers import _full_card as full_card

    return await full_card(request, customer_id, **extra)


async def _refreshed(request: Request, customer_id: int, form_block: str, message: str,
                     header: bool = False, **extra) -> Response:
    """After a change (HTMX): the sheet's fresh form, then the member section and the card's
    figures (and header, when the tier may have changed) out of band, and a toast."""
    from web.customers import _card_context

    page = await card_view.customer_page(scope_of(request), customer_id, request.scope["auth"].user.id)
    await add_member_section(page, customer_id)
    mine = [form_block, "member_section"]
    card = ["figures"] + (["header"] if header else [])
    context = base_context(request) | _card_context(**page) | _section_context(page["member_section"], **extra) | {
        "oob": mine[1:] + card}
    html = render_blocks(env, SECTION, mine, context) + render_blocks(env, CARD, card, context)
    return Response(html, status_code=200, media_type=MediaType.HTML,
                    headers={**VARY, **toast_header(message)})


def _form_error(request: Request, section: dict, block: str, values: dict, errors: dict, **extra) -> Response:
    return render(request, SECTION, _section_context(section, values=values, errors=errors, **extra), block=block)


def _parse_delta(text: str) -> int | None:
    text = text.strip().replace(" ", "").replace(",", "")
    if text.startswith("+"):
        text = text[1:]
    body = text[1:] if text.startswith("-") else text
    return int(text) if body.isdecimal() and body.isascii() and len(body) <= 9 else None


class MemberCardController(Controller):
    path = "/customers/{customer_id:int}"
    guards = [staff_required]

    @get("/member")
    async def section(self, request: Request, customer_id: FromPath[int]) -> Response:
        """HTMX: the member section alone; without JavaScript, the card."""
        if not is_fragment_request(request):
            return await _full_card(request, customer_id)
        await _customer(request, customer_id)
        return render(request, SECTION, _section_context(await card_section(customer_id)), block="member_section")

    # ------------------------------------------------------------ enrol

    @get("/member/join")
    async def join_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if not is_fragment_request(request):
            return await _full_card(request, customer_id, sheet="join")
        await _customer(request, customer_id)
        return render(request, SECTION, _section_context(await card_section(customer_id)), block="join_form")

    @post("/member/join")
    async def join(self, request: Request, customer_id: FromPath[int]) -> Response:
        await _customer(request, customer_id)
        form = await request.form()
        consents = {ch: form.get(f"consent_{ch}") == "1" for ch in CONSENT_CHANNELS}
        member = await membership.join(customer_id, "staff", actor_of(request), consents=consents)
        message = _("Enrolled: member no. %(no)s.") % {"no": member["member_no"]}
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=member#card-member", status_code=303)
        return await _refreshed(request, customer_id, "member_sheets", message, header=True)

    # ------------------------------------------------------------ points: adjust and history

    @get("/points/adjust")
    async def adjust_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if not is_fragment_request(request):
            return await _full_card(request, customer_id, sheet="adjust")
        await _member_of(request, customer_id)
        return render(request, SECTION, _section_context(await card_section(customer_id)), block="adjust_form")

    @post("/points/adjust")
    async def adjust(self, request: Request, customer_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        values = _form_values(await request.form(), ("delta", "reason", "key", "direction"))
        user = request.scope["auth"].user
        delta = _parse_delta(values["delta"])
        if delta is not None and values["direction"] == "take":
            delta = -abs(delta)  # the number pad has no minus: the toggle says which way
        errors: dict[str, str] = {}
        replayed = False
        try:
            if delta is None:
                errors["delta"] = _("a whole number of points, like 100 or -100")
                if not values["reason"].strip():
                    errors["reason"] = _("required: say why the points change")
            else:
                result = await ledger.adjust(member["id"], delta, values["reason"], values["key"],
                                             actor_of(request), user.role)
                replayed = result.replayed
        except ValidationFailed as exc:
            errors = field_errors(exc.errors)
            if "idempotency_key" in errors:
                errors["form"] = errors.pop("idempotency_key")
        except Forbidden:
            cfg = await config.load()
            errors["delta"] = _("Adjustments over %(n)s points need a manager. Ask a manager to make this one.") % {
                "n": f"{cfg.manager_above:,}"}
        except ledger.InsufficientPoints as exc:
            errors["delta"] = _("Not enough points: the balance is %(n)s.") % {"n": f"{exc.balance:,}"}
        except ledger.KeyReused:
            values["key"] = ""
            errors["form"] = _("This form was already used for another change. Check the history, then try again.")
        if errors:
            if not is_fragment_request(request):
                return await _full_card(request, customer_id, sheet="adjust", values=values, errors=errors)
            return _form_error(request, await card_section(customer_id), "adjust_form", values, errors)
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=points#card-member", status_code=303)
        message = (_("Already saved.") if replayed else
                   _("Points adjusted: %(delta)s.") % {"delta": f"{delta:+,}"})
        return await _refreshed(request, customer_id, "adjust_form", message)

    @get("/points")
    async def history(self, request: Request, customer_id: FromPath[int],
                      before: FromQuery[str | None] = None) -> Response:
        """Every points entry, newest first, 20 a page (the cursor is the last entry's id)."""
        customer = await _customer(request, customer_id)
        member = await membership.member_for_customer(customer_id)
        if member is None:
            raise NotFound()
        cursor = parse_id(before)
        async with reading():
            entries, next_cursor = await ledger.history(member["id"], before=cursor, limit=20)
            summary = None if cursor and is_fragment_request(request) else await membership.summary(member["id"])
        more_url = f"/customers/{customer_id}/points?{urlencode({'before': next_cursor})}" if next_cursor else None
        return render(request, "members/points.html", {
            "nav": "customers", "customer": customer, "member": member, "summary": summary,
            "entries": entries, "more_url": more_url, "older": bool(cursor)}, block="rows")

    # ------------------------------------------------------------ coupons: issue and use

    @get("/coupons/issue")
    async def issue_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if not is_fragment_request(request):
            return await _full_card(request, customer_id, sheet="issue")
        await _member_of(request, customer_id)
        return render(request, SECTION, _section_context(await card_section(customer_id)), block="issue_form")

    @post("/coupons/issue")
    async def issue(self, request: Request, customer_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        values = _form_values(await request.form(), ("coupon_type_id",))
        type_id = parse_id(values["coupon_type_id"])
        actives = {t["id"] for t in await catalogue.list_coupon_types(active_only=True)}
        errors: dict[str, str] = {}
        coupon = None
        if type_id not in actives:
            errors["coupon_type_id"] = _("Choose a coupon type.")
        else:
            try:
                coupon = await coupons.issue(member["id"], type_id, source="staff",
                                             actor_label=actor_of(request).label)
            except NotFound:  # switched off meanwhile
                errors["coupon_type_id"] = _("This coupon type was switched off. Choose another.")
        if errors:
            if not is_fragment_request(request):
                return await _full_card(request, customer_id, sheet="issue", values=values, errors=errors)
            return _form_error(request, await card_section(customer_id), "issue_form", values, errors)
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=coupon#card-member", status_code=303)
        return await _refreshed(request, customer_id, "issue_form",
                                _("Coupon issued: %(code)s.") % {"code": coupon["code"]})

    async def _open_coupon(self, member: dict, coupon_id: int) -> dict:
        found = next((c for c in await coupons.for_member(member["id"], limit=200) if c["id"] == coupon_id), None)
        if found is None:
            raise NotFound()
        return found

    @get("/coupons/{coupon_id:int}/use")
    async def use_form(self, request: Request, customer_id: FromPath[int], coupon_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        coupon = await self._open_coupon(member, coupon_id)
        if not is_fragment_request(request):
            return await _full_card(request, customer_id, sheet="use", coupon=coupon)
        return render(request, SECTION, _section_context(await card_section(customer_id), sheet="use",
                                                         coupon=coupon), block="use_form")

    @post("/coupons/{coupon_id:int}/use")
    async def use(self, request: Request, customer_id: FromPath[int], coupon_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        values = _form_values(await request.form(), ("order_ref",))
        values["order_ref"] = values["order_ref"].strip()[:64]
        coupon = next((c for c in await coupons.for_member(member["id"], include_used=True, limit=500)
                       if c["id"] == coupon_id), None)
        if coupon is None:
            raise NotFound()
        errors: dict[str, str] = {}
        try:
            await coupons.use(coupon["code"], values["order_ref"], actor_of(request).label, member_id=member["id"])
        except Conflict:
            errors["form"] = (_("This coupon was already used.") if coupon["used_at"] or coupon["state"] == "used"
                              else _("This coupon is not valid now."))
        if errors:
            if not is_fragment_request(request):
                return await _full_card(request, customer_id, sheet="use", coupon=coupon, values=values, errors=errors)
            return _form_error(request, await card_section(customer_id), "use_form", values, errors,
                               sheet="use", coupon=coupon)
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=coupon_used#card-member", status_code=303)
        return await _refreshed(request, customer_id, "use_form", _("Coupon %(code)s marked as used.") % {
            "code": coupon["code"]}, sheet="use", coupon=coupon)


# ---------------------------------------------------------------- scan member card


class MemberScanController(Controller):
    path = "/members"
    guards = [staff_required]

    @get("/scan")
    async def scan(self, request: Request, code: FromQuery[str | None] = None,
                   no: FromQuery[str | None] = None) -> Response:
        """The camera page; with ?code= (what the camera read) or ?no= (typed), open that
        member's card. A code that is not one of our signed cards, or a member the person
        may not see, shows the page again with the reason (422 / 404)."""
        if code is None and no is None:
            return render(request, "members/scan.html", {"nav": "customers", "error": None, "no": "",
                                                         "autostart": False})
        member_no = read_card_payload(code[:200]) if code is not None else (no or "").strip()[:12]
        if not member_no:
            error = _("This is not a member card. Ask the member to open their member page and show the QR code.") \
                if code is not None else _("Type a member number.")
            return render(request, "members/scan.html", {"nav": "customers", "error": error, "no": no or "",
                                                         "autostart": False}, status=422)
        member = await membership.member_by_no(member_no)
        if member is not None:
            try:
                await _customer(request, member["customer"])
            except NotFound:
                member = None
        if member is None:
            return render(request, "members/scan.html", {
                "nav": "customers", "no": no or "", "autostart": False,
                "error": _("No member has this number among the customers you can see.")}, status=404)
        return Redirect(f"/customers/{member['customer']}#card-member", status_code=303)


MEMBER_CONTROLLERS = [MemberSettingsController, MemberCardController, MemberScanController]
