"""The More menu and the tabs whose capabilities arrive in later releases."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromQuery

from db.audit.log import recent
from web.staff.account import flash_from_query
from db.members.membership import overview
from web.core.auth import role_required, scope_of, staff_required
from web.core.params import parse_id
from web.core.templating import render


@get("/members", guards=[staff_required])
async def members(request: Request) -> Response:
    """The Members tab: scan or open a member, members per tier, refund shortfalls to look
    at and the latest redemptions, all within the person's scope."""
    return render(request, "members/home.html", {"nav": "members", "overview": await overview(scope_of(request))})


@get("/campaigns", guards=[staff_required])
async def campaigns(request: Request) -> Response:
    return render(request, "coming_soon.html", {"nav": "campaigns", "section": "campaigns"})


@get("/more", guards=[staff_required])
async def more(request: Request) -> Response:
    return render(request, "more.html", {"nav": "more", "flashes": flash_from_query(request)})


@get("/admin/audit", guards=[role_required("admin")])
async def audit_log(request: Request, before: FromQuery[str | None] = None) -> Response:
    entries = await recent(50, parse_id(before))
    more_url = f"/admin/audit?before={entries[-1]['id']}" if len(entries) == 50 else None
    return render(request, "admin/audit.html",
                  {"nav": "more", "entries": entries, "more_url": more_url})


ROUTES = [members, campaigns, more, audit_log]
