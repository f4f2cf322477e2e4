"""The Members tab (staff): scan or open a member, members per tier, refund shortfalls to look
at and the latest redemptions."""

from __future__ import annotations

from litestar import Request, Response, get

from db.members.membership import overview
from web.core.auth import scope_of, staff_required
from web.core.templating import render


@get("/members", guards=[staff_required])
async def members(request: Request) -> Response:
    """The Members tab: scan or open a member, members per tier, refund shortfalls to look
    at and the latest redemptions, all within the person's scope."""
    return render(request, "members/home.html", {"nav": "members", "overview": await overview(scope_of(request))})
