"""Scanning a member card (staff): the camera page, and opening the card of the member whose QR
code (signed by db/members/qr_card.py) or typed number it read."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from litestar.response import Redirect

from db.customers.service import get_customer
from db.errors import NotFound
from db.members import membership
from db.members.qr_card import read_card_payload
from web.core.auth import scope_of, staff_required
from web.core.i18n import gettext as _
from web.core.templating import render


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
                await get_customer(scope_of(request), member["customer"])
            except NotFound:
                member = None
        if member is None:
            return render(request, "members/scan.html", {
                "nav": "customers", "no": no or "", "autostart": False,
                "error": _("No member has this number among the customers you can see.")}, status=404)
        return Redirect(f"/customers/{member['customer']}#card-member", status_code=303)
