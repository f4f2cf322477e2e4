"""/reports/schedules (managers and admins): reports e-mailed every week or month
(db/reports/subscriptions.py): the list with each one's last and next delivery and its
failures, the form to subscribe managers, remove, and send a failed delivery again. Without
CRM_SMTP_URL the page says that delivery is off and what to set."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from db import mail
from db.errors import NotFound, ValidationFailed
from db.orders.tables import CHANNELS
from db.reports import subscriptions as subs
from db.staff.accounts import list_teams
from reports.registry import REPORTS
from web.core.auth import actor_of, role_required, scope_of
from web.core.forms import Field, read_form
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from db.i18n import N_
from web.core.templating import render

PATH = "/reports/schedules"
MESSAGES = {"added": N_("Subscribed. The first report goes out at the next send time."),
            "removed": N_("Subscription removed."),
            "retried": N_("Sending again now.")}
FIELDS = (
    Field("report", kind="choice", choices=tuple((name, r.title) for name, r in REPORTS.items())),
    Field("cadence", kind="choice", choices=(("weekly", ""), ("monthly", ""))),
    Field("channel", max_length=20),
    Field("team", max_length=12),
)


async def _page(request: Request, values: dict, errors: dict, status: int = 200) -> Response:
    viewer = scope_of(request)
    msg = request.query_params.get("msg")
    people = await subs.recipients()
    teams = await list_teams()
    if viewer.kind != "all":
        teams = [t for t in teams if t["id"] == viewer.team_id]
    return render(request, "reports/schedules.html", {
        "nav": "more", "items": await subs.listing(viewer), "values": values, "errors": errors,
        "flashes": [("success", _(MESSAGES[msg]))] if msg in MESSAGES and not errors else [],
        "people": people, "teams": teams, "channels": CHANNELS,
        "reports": [(name, r.title) for name, r in REPORTS.items()],
        "report_options": [(name, _(r.title)) for name, r in REPORTS.items()],
        "team_options": [(str(t["id"]), t["name"]) for t in teams],
        "mail_off": mail.smtp_problem(), "mail_unset": mail.UNSET,  # (the page says that one)
    }, status=status)


class SchedulesController(Controller):
    path = PATH
    guards = [role_required("manager", "admin")]

    @get("/")
    async def page(self, request: Request) -> Response:
        return await _page(request, {"cadence": "weekly", "recipients": [request.scope["auth"].user.id]}, {})

    @post("/")
    async def add(self, request: Request) -> Response:
        form = await read_form(request, FIELDS)
        raw_form = await request.form()
        chosen = [v for v in raw_form.getall("recipients", []) if isinstance(v, str)][:200]
        values = {**form.text, "recipients": [int(v) for v in chosen if v.isdigit() and len(v) < 12]}
        try:
            await subs.create(form.text.get("report", ""), REPORTS, form.text.get("cadence", ""),
                              values["recipients"], form.text.get("channel") or None,
                              form.text.get("team") or None, actor_of(request))
        except ValidationFailed as exc:
            return await _page(request, values, field_errors(exc.errors), status=422)
        return Redirect(f"{PATH}?msg=added", status_code=303)

    @post("/{subscription_id:int}/delete")
    async def remove(self, request: Request, subscription_id: FromPath[int]) -> Response:
        await subs.remove(subscription_id, scope_of(request), actor_of(request))
        return Redirect(f"{PATH}?msg=removed", status_code=303)

    @post("/deliveries/{delivery_id:int}/retry")
    async def retry(self, request: Request, delivery_id: FromPath[int]) -> Response:
        if not await subs.retry(delivery_id, scope_of(request)):
            raise NotFound()
        return Redirect(f"{PATH}?msg=retried", status_code=303)
