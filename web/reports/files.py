"""Report files made in the background (db/reports/files.py): the progress page a slow
report lands on (its block polled by HTMX every second), the download, and the list of the
asker's files of the last 7 days that /reports shows.

For the /reports page (web/reports/pages.py):
- `await start_file(request, name, period, filt, fmt)` asks for the file and returns the
  303 to its progress page (a second manager asking the same joins the first's file);
- `await my_files(request)` gives the context `recent_files` for
  `{% include "reports/_files.html" %}`, the list of that person's files.
"""

from __future__ import annotations


from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect

from db.figures.filters import ReportFilter
from db.figures.period import Period
from db.reports import files
from reports.registry import REPORTS
from web.core.auth import actor_of, staff_required
from web.core.downloads import content_disposition
from web.core.templating import render

__all__ = ["start_file", "my_files", "FilesController"]


def _lang(request: Request) -> str:
    return request.scope.get("state", {}).get("lang", "zh-CN")


async def start_file(request: Request, name: str, period: Period, filt: ReportFilter,
                     fmt: str) -> Redirect:
    """Ask for a report file in the background; the 303 to its progress page."""
    params = {**period.query(), **filt.query(), "lang": _lang(request)}
    file_id, _started = await files.request_file(files.Request(name, params, fmt, filt.scope), actor_of(request))
    return Redirect(f"/reports/files/{file_id}", status_code=303)


def _view(row: dict) -> dict:
    report = REPORTS.get(row["report"])
    return {**row, "title": report.title if report else row["report"],
            "percent": int(round(row["progress"] * 100))}


async def my_files(request: Request) -> dict:
    """{"recent_files": [...]}: this person's files still kept, newest first."""
    user = request.scope["auth"].user
    return {"recent_files": [_view(r) for r in await files.recent_files(user.id)]}


class FilesController(Controller):
    path = "/reports/files"
    guards = [staff_required]

    @get("/")
    async def listing(self, request: Request) -> Response:
        return render(request, "reports/files.html", {"nav": "more", **await my_files(request)},
                      block="files")

    @get("/{file_id:int}")
    async def progress(self, request: Request, file_id: FromPath[int]) -> Response:
        """The file's page: a progress bar while it is made (this block, polled), then the
        download link."""
        row = await files.get_file(file_id, request.scope["auth"].user.id)
        return render(request, "reports/file.html", {"nav": "more", "f": _view(row)}, block="progress")

    @get("/{file_id:int}/download")
    async def download(self, request: Request, file_id: FromPath[int]) -> Response:
        info, content = await files.download(file_id, actor_of(request))
        return Response(content, media_type=info["media_type"], headers={
            "Content-Disposition": content_disposition(info["filename"]),
            "Cache-Control": "private, no-store",
        })


