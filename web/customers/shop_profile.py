"""More → Shop profile (/settings/shop): the shop's name and logo, shown on every page's brand
and on the PDF reports. Managers and admins (the managers are the ones who print reports for
meetings and put the shop's name on them); the rules are db/customers/shop_profile.py's."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.response import Redirect

from db.customers import shop_profile as profile
from db.errors import ValidationFailed
from web.core.auth import actor_of, role_required
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from db.i18n import N_
from web.core.templating import render

# A larger body than the logo may be still reaches the page, which then says how large a
# logo may be next to the field; beyond this the request is refused (and says so, too).
BODY_MAX = 4 * 1024 * 1024
MESSAGES = {"saved": N_("Shop profile saved.")}


async def _page(request: Request, values: dict, errors: dict, status: int = 200) -> Response:
    return _render(request, await profile.shop_profile(), values, errors, status)


def _render(request: Request, current: profile.ShopProfile, values: dict, errors: dict,
            status: int = 200) -> Response:
    msg = request.query_params.get("msg")
    flashes = [("success", _(MESSAGES[msg]))] if msg in MESSAGES and not errors else []
    return render(request, "settings/shop.html", {
        "nav": "more", "profile": current, "values": values, "errors": errors, "flashes": flashes,
        "max_kb": profile.LOGO_MAX_BYTES // 1024, "name_max": profile.NAME_MAX,
    }, status=status)


def _too_large(request: Request, _exc: Exception) -> Response:
    """(Exception handlers are synchronous: the page without the current logo's preview.)"""
    name = profile.cached_name()
    return _render(request, profile.ShopProfile(name, None, None), {"name": name},
                   {"logo": _("the picture may be at most 512 KB")}, status=413)


class ShopProfileController(Controller):
    path = "/settings/shop"
    guards = [role_required("manager", "admin")]

    @get("/")
    async def page(self, request: Request) -> Response:
        current = await profile.shop_profile()
        return await _page(request, {"name": current.name}, {})

    @post("/", request_max_body_size=BODY_MAX, exception_handlers={RequestEntityTooLarge: _too_large})
    async def save(self, request: Request) -> Response:
        form = await request.form()  # not web/core/forms: it carries the uploaded logo
        name = form.get("name", "")
        name = name if isinstance(name, str) else ""
        upload = form.get("logo")
        logo = None
        if isinstance(upload, UploadFile) and upload.filename:
            try:
                logo = await upload.read(profile.LOGO_MAX_BYTES + 1)
            finally:
                await upload.close()
        remove = form.get("remove_logo") == "1"
        try:
            await profile.save_shop_profile(name, logo, actor_of(request), remove_logo=remove)
        except ValidationFailed as exc:
            return await _page(request, {"name": name[:200]}, field_errors(exc.errors), status=422)
        return Redirect("/settings/shop?msg=saved", status_code=303)
