"""Import pages (managers and admins): upload -> column mapping -> preview -> start ->
progress (HTMX polls the job's progress block) -> result with the rejected rows as CSV.

The job's state lives in ImportJob, so any process can show a job; the import itself runs as
an `import.run` job (db/jobs) on whichever process claims it, and is claimed again when that
process dies (db/jobs/kinds.py also resumes imports the command line left running).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from litestar import Controller, Request, Response, get, post
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.response import File, Redirect

from db.audit.log import record
from db.errors import NotFound, ValidationFailed
from db.imports import jobs
from db.imports.mapping import field_choices
from db.orders.tables import CHANNELS
from web.core.auth import actor_of, role_required
from web.core.forms import read_form, texts
from web.core.i18n import field_errors, translate
from web.core.i18n import gettext as _
from db.settings import get_settings
from web.core.templating import render

log = logging.getLogger("crm.imports")
def _viewer(request: Request) -> tuple[int, str]:
    user = request.scope["auth"].user
    return user.id, user.role


async def _job(request: Request, job_id: int) -> dict:
    return await jobs.get_job(job_id, *_viewer(request))


def _field_labels(custom: list[dict]) -> dict[str, str]:
    labels = {
        "name": _("Full name"), "mobile": _("Mobile"), "email": _("E-mail"), "gender": _("Gender"),
        "birthday": _("Birthday"), "province": _("Province"), "city": _("City"),
        "address": _("Address"), "external_id": _("Order number"), "placed_at": _("Order time"),
        "total": _("Amount paid"), "channel": _("Channel"), "status": _("Order status"),
    }
    labels.update({f"custom.{f['key']}": f["label"] for f in custom})
    return labels


def _max_mb() -> int:
    return max(1, get_settings().import_max_bytes // (1024 * 1024))


def _index(request: Request, kind: str, recent: list, errors: dict, status: int = 200) -> Response:
    return render(request, "imports/index.html", {
        "nav": "more", "kind": kind, "recent": recent, "errors": errors, "max_mb": _max_mb(),
    }, status=status)


def _too_large(request: Request, _exc: Exception) -> Response:
    message = _("The file is larger than %(mb)d MB: split it into smaller files.") % {"mb": _max_mb()}
    return _index(request, "customers", [], {"file": message}, status=413)


async def _mapping_context(job: dict, errors: dict | None = None, chosen: dict | None = None,
                           channel: str | None = None) -> dict:
    headers = await asyncio.to_thread(jobs.headers_of, job)
    custom = await jobs.custom_fields() if job["kind"] == "customers" else []
    sample = await jobs.first_row(job)
    labels = _field_labels(custom)
    options = [("", _("— Skip this column —"))] + [
        (f, labels.get(f, f)) for f in field_choices(job["kind"], custom)
    ]
    return {
        "nav": "more", "job": job, "headers": headers, "sample": sample, "field_options": options,
        "chosen": chosen if chosen is not None else job["mapping"],
        "channel": channel if channel is not None else job["options"].get("default_channel", ""),
        "channels": CHANNELS,  # named by components/labels.html
        "errors": errors or {},
    }


class ImportPages(Controller):
    path = "/import"
    guards = [role_required("manager", "admin")]

    @get("/")
    async def index(self, request: Request) -> Response:
        return _index(request, "customers", await jobs.recent_jobs(*_viewer(request)), {})

    @get("/{job_id:int}")
    async def job_page(self, request: Request, job_id: FromPath[int]) -> Response:
        job = await _job(request, job_id)
        if job["status"] == "uploaded":
            return render(request, "imports/mapping.html", await _mapping_context(job))
        error = translate(job["error"], job["options"].get("error_values")) if job["error"] else ""
        return render(request, "imports/job.html", {"nav": "more", "job": job, "error": error},
                      block="progress")

    @post("/{job_id:int}/mapping")
    async def save_mapping(self, request: Request, job_id: FromPath[int]) -> Response:
        job = await _job(request, job_id)
        headers = await asyncio.to_thread(jobs.headers_of, job)
        # One choice per column of the file, so the fields are known only now.
        form = (await read_form(request, texts(*(f"col{i}" for i in range(len(headers))), "channel"))).text
        chosen = {h: form[f"col{i}"] for i, h in enumerate(headers)}
        channel = form["channel"]
        try:
            await jobs.save_mapping(job, chosen, channel)
        except ValidationFailed as exc:
            return render(request, "imports/mapping.html",
                          await _mapping_context(job, field_errors(exc.errors), chosen, channel))
        return Redirect(f"/import/{job_id}/preview", status_code=303)

    @get("/{job_id:int}/preview")
    async def preview(self, request: Request, job_id: FromPath[int]) -> Response:
        job = await _job(request, job_id)
        if job["status"] != "uploaded":
            return Redirect(f"/import/{job_id}", status_code=303)
        shown = await jobs.preview(job)
        custom = await jobs.custom_fields() if job["kind"] == "customers" else []
        return render(request, "imports/preview.html", {
            "nav": "more", "job": job, "preview": shown, "labels": _field_labels(custom),
            "default_channel": job["options"].get("default_channel", ""),
        })

    @post("/{job_id:int}/start")
    async def start(self, request: Request, job_id: FromPath[int]) -> Response:
        job = await _job(request, job_id)
        if job["status"] == "uploaded":
            try:
                await jobs.check_ready(job)
            except ValidationFailed:
                return Redirect(f"/import/{job_id}", status_code=303)
            await jobs.start_in_background(job)
        return Redirect(f"/import/{job_id}", status_code=303)

    @get("/{job_id:int}/rejected.csv")
    async def rejected(self, request: Request, job_id: FromPath[int]) -> Response:
        job = await _job(request, job_id)
        path = Path(job["rejects_path"])
        if job["status"] not in ("done", "failed") or not job["rejected"] or not path.is_file():
            raise NotFound()
        actor = actor_of(request)
        await record("export.import_rejects", actor_id=actor.id, actor=actor.label,
                     target_type="import_job", target_id=job_id, ip=actor.ip,
                     detail={"rows": job["rejected"]})
        name = Path(job["filename"]).stem + "-rejected.csv"
        return File(path=path, filename=name, media_type="text/csv; charset=utf-8",
                    content_disposition_type="attachment")


async def _upload(request: Request) -> Response:
    form = await request.form()  # not web/core/forms: it carries the uploaded file
    kind = str(form.get("kind", ""))
    upload = form.get("file")
    errors = {}
    if kind not in ("customers", "orders"):
        errors["kind"] = _("Choose customers or orders.")
    if upload is None or isinstance(upload, str) or not upload.filename:
        errors["file"] = _("Choose a CSV or Excel (.xlsx) file.")
    if not errors:
        folder = get_settings().data_dir / "imports"
        path = jobs.upload_path(folder, upload.filename)
        try:
            await asyncio.to_thread(_copy, upload.file, path)
            job_id = await jobs.create_job(kind, path, upload.filename, _viewer(request)[0])
        except ValidationFailed as exc:
            errors = field_errors(exc.errors)
        finally:
            await upload.close()
    if errors:
        recent = await jobs.recent_jobs(*_viewer(request))
        return _index(request, kind if kind in ("customers", "orders") else "customers", recent, errors)
    return Redirect(f"/import/{job_id}", status_code=303)



def import_controller() -> type[Controller]:
    """The import pages with the upload's body limit read from the settings now (per app):
    only this route accepts large bodies (CRM_IMPORT_MAX_BYTES)."""

    class ImportController(ImportPages):
        @post("/", request_max_body_size=get_settings().import_max_bytes,
              exception_handlers={RequestEntityTooLarge: _too_large})
        async def upload(self, request: Request) -> Response:
            return await _upload(request)

    return ImportController


def _copy(source, target: Path) -> None:
    source.seek(0)
    with open(target, "wb") as out:
        while chunk := source.read(1024 * 1024):
            out.write(chunk)
