"""The review of likely duplicates (managers and admins): pairs side by side with the
evidence, "Not the same person", and a merge that the reviewer confirms first."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect

from db.customers import duplicates, merge
from db.errors import ValidationFailed
from web.core.auth import actor_of, role_required, scope_of
from web.core.forms import Field, read_form
from web.core.i18n import field_errors
from web.core.params import parse_id
from web.core.i18n import gettext as _
from web.core.templating import is_fragment_request, render

PAGE_PAIRS = 20
PAIR_FIELDS = (Field("a", kind="id"), Field("b", kind="id"))
MERGE_FIELDS = (Field("survivor", kind="id"), Field("merged", kind="id"))


class DuplicatesController(Controller):
    path = "/customers/duplicates"
    guards = [role_required("manager", "admin")]

    @get("/")
    async def review(self, request: Request, after: FromQuery[str | None] = None) -> Response:
        after = (after or "")[:200] or None
        pairs, cursor = await duplicates.find_likely_duplicates(scope_of(request), PAGE_PAIRS, after)
        more_url = f"/customers/duplicates?{urlencode({'after': cursor})}" if cursor else None
        context = {"nav": "customers", "pairs": pairs, "more_url": more_url}
        return render(request, "customers/duplicates/review.html", context, block="pairs" if after else None)

    @post("/dismiss")
    async def dismiss(self, request: Request) -> Response:
        pair = (await read_form(request, PAIR_FIELDS)).values
        first, second = pair["a"], pair["b"]
        if first is None or second is None:
            raise ValidationFailed({"a": "required"})
        scope = scope_of(request)
        a, b = await duplicates.pair_in_scope(scope, first, second)
        await duplicates.dismiss_pair(scope, first, second, actor_of(request))
        if not is_fragment_request(request):
            return Redirect("/customers/duplicates", status_code=303)
        return render(request, "customers/duplicates/review.html",
                      {"nav": "customers", "pairs": [], "dismissed": (a, b)}, block="dismissed")

    @get("/merge")
    async def confirm_merge(self, request: Request, survivor: FromQuery[str] = "",
                            merged: FromQuery[str] = "", a: FromQuery[str] = "",
                            b: FromQuery[str] = "") -> Response:
        """From the review (a, b and the survivor chosen) or from "Keep the other one"."""
        survivor_id, merged_id = parse_id(survivor), parse_id(merged)
        if merged_id is None and survivor_id is not None:
            pair = {parse_id(a), parse_id(b)}
            if survivor_id in pair and len(pair) == 2:
                merged_id = (pair - {survivor_id}).pop()
        return await self._confirm(request, survivor_id, merged_id, {})

    async def _confirm(self, request: Request, survivor_id, merged_id, errors: dict,
                       status: int = 200) -> Response:
        if survivor_id is None or merged_id is None:
            raise ValidationFailed({"merged_id": "required"})
        survivor, merged = await duplicates.pair_in_scope(scope_of(request), survivor_id, merged_id)
        return render(request, "customers/duplicates/merge.html",
                      {"nav": "customers", "survivor": survivor, "merged": merged, "errors": errors},
                      status=status)

    @post("/merge")
    async def merge(self, request: Request) -> Response:
        pair = (await read_form(request, MERGE_FIELDS)).values
        survivor_id, merged_id = pair["survivor"], pair["merged"]
        if survivor_id is None or merged_id is None:
            raise ValidationFailed({"merged_id": "required"})
        try:
            await merge.merge_customers(scope_of(request), survivor_id, merged_id, actor_of(request))
        except ValidationFailed as exc:
            if survivor_id == merged_id:
                raise
            try:
                return await self._confirm(request, survivor_id, merged_id, field_errors(exc.errors))
            except Exception:  # the merged customer is gone (merged meanwhile): say so
                return render(request, "error.html", {
                    "status": 409, "title": _("Already merged"),
                    "message": _("Someone merged this customer a moment ago. Nothing was changed."),
                }, status=409)
        # The card shows a flash for ?saved=merged (web/customers/pages.py _flash).
        return Redirect(f"/customers/{survivor_id}?saved=merged", status_code=303)
