"""Reports: the list (/reports), one report's form and HTML preview (/reports/{name}), and its
downloads as PDF and XLSX (/reports/{name}.pdf and .xlsx, same query).

Managers and admins open every report (managers for their team; a manager asking for another
team is refused with 403); staff open the follow-up report of their own figures. The preview
is the report's own print template (reports/render.py), inside the app shell; a change in
the form reloads just the preview (HTMX) and the address follows.
"""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.params import FromPath

from db.customers.scope import Scope
from db.engine import reading
from db.errors import NotFound, ValidationFailed
from db.figures.filters import make_filter
from db.figures.period import Period
from db.orders.tables import CHANNELS
from db.staff.accounts import list_teams
from reports import render as report_render
from reports.build import (UnknownReport, build, context, likely_slow, report_data,
                           report_named)
from reports.registry import REPORTS, Report
from web.core.auth import NotAllowed, actor_of, scope_of, staff_required
from web.core.downloads import content_disposition
from web.core.i18n import current_lang, field_errors
from web.core.templating import page_nonce, render
from web.reports.files import my_files, start_file

LIST = "reports/list.html"
PAGE = "reports/report.html"
MANAGERS = ("manager", "admin")


def visible(report: Report, role: str) -> bool:
    return role in MANAGERS or report.for_staff


def _report_for(request: Request, name: str) -> Report:
    try:
        report = report_named(name)
    except UnknownReport:
        raise NotFound() from None
    if not visible(report, request.scope["user"].role):
        raise NotAllowed()
    return report


def _split(file: str) -> tuple[str, str | None]:
    for fmt in ("pdf", "xlsx"):
        if file.endswith("." + fmt):
            return file[: -len(fmt) - 1], fmt
    return file, None



class ReportController(Controller):
    path = "/reports"
    guards = [staff_required]

    @get("/")
    async def list_reports(self, request: Request) -> Response:
        role = request.scope["user"].role
        reports = [r for r in REPORTS.values() if visible(r, role)]
        return render(request, LIST, {"nav": "more", "reports": reports, **await my_files(request),
                                      "can_schedule": role in MANAGERS})

    @get("/{file:str}")
    async def report(self, request: Request, file: FromPath[str]) -> Response:
        name, fmt = _split(file)
        report = _report_for(request, name)
        query = request.query_params
        start, end = query.get("from"), query.get("to")
        channel, team = query.get("channel"), query.get("team")
        scope: Scope = scope_of(request)
        errors: dict[str, str] = {}
        period = filt = None
        try:
            period = Period.parse(start, end)
        except ValidationFailed as exc:
            errors.update(exc.errors)
        try:
            filt = make_filter(scope, channel, team)  # Forbidden: another team's figures (403)
        except ValidationFailed as exc:
            errors.update(exc.errors)
        if fmt is not None:
            if errors:
                raise ValidationFailed(errors)
            if await likely_slow(name, period, filt):  # made by a job: its progress page
                return await start_file(request, name, period, filt, fmt)
            built = await build(name, period, filt, fmt, lang=current_lang(),
                                actor=actor_of(request).label)
            return Response(built.content, media_type=built.media_type, headers={
                "Content-Disposition": content_disposition(built.filename),
                "Cache-Control": "private, no-store"})
        form = {"from": start or (period.start.isoformat() if period else ""),
                "to": end or (period.end.isoformat() if period else ""),
                "channel": channel or "", "team": team or ""}
        preview = None
        if not errors:
            form.update(period.query())
            stored = await report_data(report, period, filt)  # the figure store's, as in the PDF
            async with reading():
                ctx = await context(report, period, filt, stored.value, current_lang(),
                                    stored.computed_at)
            ctx["nonce"] = page_nonce(request)  # an HTMX swap joins the page's CSP
            preview = report_render.preview(report.template, ctx, current_lang())
        query_string = urlencode({k: v for k, v in form.items() if v})
        return render(request, PAGE, {
            "nav": "more", "report": report, "form": form, "errors": field_errors(errors),
            "preview": preview, "query": query_string,
            "channels": CHANNELS, "teams": [(t["id"], t["name"]) for t in await list_teams()] if scope.kind == "all" else [],
            "show_team": scope.kind == "all",
        }, block="preview")
