"""Members' settings (managers and admins): tiers, coupon types, rewards and the points rules.

Thin, like the other controllers: parse the form, call db/members/catalogue and config, render
the pages under templates/settings/.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from db.errors import ValidationFailed
from db.members import catalogue, config
from web.core.auth import actor_of, role_required
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from web.core.params import form_values as _form_values
from web.core.params import parse_id
from web.core.templating import is_fragment_request, render, toast_header

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
