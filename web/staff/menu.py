"""The More menu and the tabs whose capabilities arrive in later releases."""

from __future__ import annotations

from litestar import Request, Response, get

from web.core.auth import staff_required
from web.core.templating import render
from web.staff.account import flash_from_query


@get("/campaigns", guards=[staff_required])
async def campaigns(request: Request) -> Response:
    return render(request, "coming_soon.html", {"nav": "campaigns", "section": "campaigns"})


@get("/more", guards=[staff_required])
async def more(request: Request) -> Response:
    return render(request, "more.html", {"nav": "more", "flashes": flash_from_query(request)})


ROUTES = [campaigns, more]
