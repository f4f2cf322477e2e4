"""The background jobs page for admins: counts per kind and status, the queued, running and
failed jobs (newest first, a page at a time) and a Retry button for failed ones."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from db.jobs import queue
from web.core.auth import role_required
from web.core.i18n import gettext as _
from web.core.params import parse_id
from web.core.templating import render

FILTERS = ("", *queue.LISTED)
TONES = {"queued": "blue", "running": "amber", "done": "green", "failed": "red"}


def _names() -> tuple[dict, dict]:
    kinds = {"nightly": _("Nightly recompute"), "reminders": _("Follow-up reminders"),
             "push.send": _("Push notifications"), "import.run": _("Import"),
             "import.recover": _("Resume stopped imports"),
             "figures.refresh": _("Recompute stored figures"),
             "figures.warm": _("Precompute the dashboard's figures")}
    statuses = {"queued": _("Queued"), "running": _("Running"), "done": _("Done"),
                "failed": _("Failed")}
    return kinds, statuses


@get("/admin/jobs", guards=[role_required("admin")])
async def jobs_page(request: Request, status: FromQuery[str | None] = None,
                    before: FromQuery[str | None] = None,
                    msg: FromQuery[str | None] = None) -> Response:
    status = status if status in queue.LISTED else ""
    rows, next_before = await queue.listing(status or None, parse_id(before))
    more_url = None
    if next_before is not None:
        more_url = f"/admin/jobs?status={status}&before={next_before}"
    flashes = {"retried": [("success", _("Queued again."))],
               "not_retried": [("error", _("That job is not failed, or the same work is already queued."))]}
    kind_names, status_names = _names()
    return render(request, "admin/jobs.html", {
        "kind_names": kind_names, "status_names": status_names, "tones": TONES,
        "nav": "more", "counts": await queue.counts(), "jobs": rows, "status": status,
        "filters": FILTERS, "more_url": more_url, "flashes": flashes.get(msg or "", []),
    }, block="jobs")


@post("/admin/jobs/{job_id:int}/retry", guards=[role_required("admin")])
async def retry_job(job_id: FromPath[int]) -> Response:
    done = await queue.retry(job_id)
    return Redirect(f"/admin/jobs?status=failed&msg={'retried' if done else 'not_retried'}",
                    status_code=303)


ROUTES = [jobs_page, retry_job]
