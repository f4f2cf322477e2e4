"""The audit log (admins): the latest entries, 50 a page."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromQuery

from db.audit.log import recent
from web.core.auth import role_required
from web.core.params import parse_id
from web.core.templating import render


@get("/admin/audit", guards=[role_required("admin")])
async def audit_log(request: Request, before: FromQuery[str | None] = None) -> Response:
    entries = await recent(50, parse_id(before))
    more_url = f"/admin/audit?before={entries[-1]['id']}" if len(entries) == 50 else None
    return render(request, "admin/audit.html",
                  {"nav": "more", "entries": entries, "more_url": more_url})
