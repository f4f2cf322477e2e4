"""Import jobs: upload -> mapping -> preview -> run -> result, with the state in ImportJob so
any process can show a job's progress, and a job whose process died can be picked up again.

A job belongs to the person who uploaded it (admins see every job). The file is kept under
the data folder until the job is deleted; the rejected rows go to a CSV beside it.

The file is read at upload (reader.inspect) and once more by the run, never by a page: the
upload stores the headers and the first rows on the job (`headers`, `sample`), and the
mapping page and the preview read those. Four people looking at a 500 MB sheet's preview
cost four small SELECTs, not four parses of the sheet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
from pathlib import Path

from db.audit.log import record
from db.clock import SHOP_TZ, now
from db.money import format_fen
from db.customers.scope import Scope
from db.engine import raw, writing
from db.errors import NotFound, ValidationFailed
from db.imports import mapping as mapping_mod
from db.imports import reader, values
from db.customers import identity
from db.imports.rows import Context, parse_row, reason
from db.orders.ingest import OrderInput
from db.imports.batch import Counts, Importer
from db.imports.runner import process_file
from db.imports.tables import IMPORT_KINDS, ImportJob
from db.orders.tables import CHANNELS
from db.customers.fields import list_fields
from db.jobs.queue import enqueue

log = logging.getLogger("crm.imports")

PREVIEW_ROWS = reader.PREVIEW_ROWS
STALE_AFTER = dt.timedelta(minutes=2)  # a running job this long without a batch has lost its process
UPLOAD_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")


def upload_path(folder: Path, filename: str) -> Path:
    """Where an upload is stored: a random name under the data folder's imports/."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        suffix = ".csv"
    return folder / f"{dt.date.today():%Y%m%d}-{secrets.token_hex(8)}{suffix}"


def _kind(kind: str) -> str:
    if kind not in IMPORT_KINDS:
        raise ValidationFailed({"kind": "customers or orders"})
    return kind


async def _inspect(path: Path, filename: str) -> reader.FileInfo:
    try:
        info = await asyncio.to_thread(reader.inspect, path, filename)
    except reader.UnreadableFile as exc:
        raise ValidationFailed({"file": exc.message}) from exc
    if info.total_rows == 0:
        raise ValidationFailed({"file": "the file has no data rows under its header"})
    return info


async def custom_fields() -> list[dict]:
    return await list_fields()


async def create_job(kind: str, path: Path, filename: str, user_id: int | None,
                     status: str = "uploaded", info: reader.FileInfo | None = None) -> int:
    """Read the stored upload once (encoding, headers, rows); a file that cannot be read is
    deleted and refused with ValidationFailed({"file": message})."""
    _kind(kind)
    try:
        info = info or await _inspect(path, filename)
    except ValidationFailed:
        path.unlink(missing_ok=True)
        raise
    guessed = mapping_mod.guess_mapping(info.headers, kind, await custom_fields() if kind == "customers" else [])
    stamp = now()
    rows = await ImportJob.insert(ImportJob(
        kind=kind, filename=(Path(filename).name or path.name)[:200], path=str(path),
        file_format=info.file_format, encoding=info.encoding, mapping=json.dumps(guessed, ensure_ascii=False),
        headers=json.dumps(info.headers, ensure_ascii=False),
        sample=values.dump_cells(info.sample), options="{}", status=status, total_rows=info.total_rows,
        rejects_path=str(path.with_name(path.stem + "-rejected.csv")), created_by=user_id,
        created_at=stamp,
    )).returning(ImportJob.id)
    return rows[0]["id"]


def _decode(job: dict) -> dict:
    job = dict(job)
    job["mapping"] = json.loads(job.get("mapping") or "{}")
    job["options"] = json.loads(job.get("options") or "{}")
    job["headers"] = json.loads(job.get("headers") or "[]")
    job["sample"] = values.load_cells(job.get("sample") or "[]")
    return job


async def get_job(job_id: int, viewer_id: int | None = None, viewer_role: str = "admin") -> dict:
    """The job if the viewer may see it (their own; admins any); NotFound otherwise."""
    row = await ImportJob.select().where(ImportJob.id == job_id).first()
    if row is None or (viewer_role != "admin" and row["created_by"] != viewer_id):
        raise NotFound()
    return _decode(row)


async def recent_jobs(viewer_id: int | None, viewer_role: str, limit: int = 10) -> list[dict]:
    query = ImportJob.select(
        ImportJob.id, ImportJob.kind, ImportJob.filename, ImportJob.status, ImportJob.total_rows,
        ImportJob.processed, ImportJob.created, ImportJob.updated, ImportJob.rejected,
        ImportJob.created_at,
    ).order_by(ImportJob.id, ascending=False).limit(limit)
    if viewer_role != "admin":
        query = query.where(ImportJob.created_by == viewer_id)
    return await query


def headers_of(job: dict) -> list[str]:
    """The file's column names, as stored at upload (a job uploaded before they were stored
    has its file's first row read)."""
    if job.get("headers"):
        return job["headers"]
    return reader.first_header(Path(job["path"]), job["file_format"], job["encoding"])


def sample_rows(job: dict) -> list[list]:
    """The first data rows, as stored at upload (read from the file for older jobs)."""
    if job.get("headers"):
        return job.get("sample") or []
    rows = reader.iter_rows(Path(job["path"]), job["file_format"], job["encoding"])
    try:
        return [cells for cells, _ in zip(rows, range(PREVIEW_ROWS))]
    finally:
        rows.close()


async def first_row(job: dict) -> list[str]:
    """The first data row as text: shown beside each column on the mapping step."""
    rows = job["sample"] if job.get("headers") else await asyncio.to_thread(sample_rows, job)
    return [values.cell_text(c) for c in rows[0]] if rows else []


async def check_ready(job: dict) -> None:
    """ValidationFailed when the stored mapping lacks a required column."""
    missing = mapping_mod.missing_required(
        {f for f in job["mapping"].values() if f}, job["kind"], job["options"].get("default_channel", "")
    )
    if missing:
        raise ValidationFailed({"mapping": missing})


async def save_mapping(job: dict, chosen: dict[str, str], default_channel: str = "") -> dict:
    """Check and store the mapping (ValidationFailed with "map.<header>" / "mapping" /
    "channel" keys); only while the job has not started."""
    if job["status"] != "uploaded":
        raise ValidationFailed({"mapping": "this import has already started"})
    if default_channel and default_channel not in CHANNELS:
        raise ValidationFailed({"channel": f"one of {', '.join(CHANNELS)}"})
    headers = await asyncio.to_thread(headers_of, job)
    fields = await custom_fields() if job["kind"] == "customers" else []
    cleaned = mapping_mod.clean_mapping(headers, chosen, job["kind"], fields, default_channel)
    options = {**job["options"], "default_channel": default_channel}
    await ImportJob.update({
        ImportJob.mapping: json.dumps(cleaned, ensure_ascii=False),
        ImportJob.options: json.dumps(options),
    }).where((ImportJob.id == job["id"]) & (ImportJob.status == "uploaded"))
    return {**job, "mapping": cleaned, "options": options}


async def context_for(job: dict) -> Context:
    headers = await asyncio.to_thread(headers_of, job)
    fields = await custom_fields() if job["kind"] == "customers" else []
    return Context.build(job["kind"], headers, job["mapping"], fields,
                         job["options"].get("default_channel", ""))


def _interpreted(record) -> dict[str, str]:
    if isinstance(record, OrderInput):
        local = record.placed_at.astimezone(SHOP_TZ)
        return {"placed_at": local.strftime("%Y-%m-%d %H:%M"), "total": "¥" + format_fen(record.total_fen),
                "mobile": identity.display_mobile(record.mobile)}
    out = {"mobile": identity.display_mobile(record.mobile)}
    if record.fields.get("birthday"):
        out["birthday"] = record.fields["birthday"].isoformat()
    return out


def _preview_rows(job: dict, ctx: Context, limit: int) -> list[dict]:
    out = []
    for index, cells in enumerate(sample_rows(job)[:limit]):
        record, errors = parse_row(ctx, cells)
        shown = {}
        for field, column in ctx.columns.items():
            value = cells[column] if column < len(cells) else None
            shown[field] = values.cell_text(value)
        if record is not None:  # how the import reads what it can take in several forms
            for field, value in _interpreted(record).items():
                if field in shown:
                    shown[field] = value
        out.append({"row": index + 2, "values": shown, "errors": errors,
                    "reason": reason(ctx, errors) if errors else ""})
    return out


async def preview(job: dict, limit: int = PREVIEW_ROWS) -> dict:
    """The first rows as the import will read them: mapped values and each row's errors."""
    ctx = await context_for(job)
    rows = await asyncio.to_thread(_preview_rows, job, ctx, limit)
    fields = [f for f in mapping_mod.field_choices(job["kind"], list(ctx.custom_fields.values()))
              if f in ctx.columns]
    return {"fields": fields, "rows": rows, "headers": {f: ctx.header_of(f) for f in fields},
            "bad": sum(1 for r in rows if r["errors"])}


async def start_job(job: dict) -> bool:
    """uploaded -> running, once (a second click or a second process does nothing)."""
    stamp = now()
    rows = await raw(
        "UPDATE import_job SET status = 'running', started_at = {}, heartbeat_at = {} "
        "WHERE id = {} AND status = 'uploaded' RETURNING id",
        stamp, stamp, job["id"],
    )
    return bool(rows)


async def start_in_background(job: dict) -> bool:
    """uploaded -> running and an `import.run` job queued, in one transaction (once)."""
    async with writing():
        if not await start_job(job):
            return False
        await enqueue("import.run", {"import_id": job["id"]}, unique_key=f"import:{job['id']}",
                      max_attempts=3)
    return True


async def _importer(job: dict) -> Importer:
    if job["created_by"] is None:
        return Importer(Scope.everything(), None, None, "cli")
    rows = await raw("SELECT id, username, role, team FROM staff_user WHERE id = {}", job["created_by"])
    if not rows:
        raise ValidationFailed({"job": "the account that started this import no longer exists"})
    user = rows[0]
    if user["role"] not in ("admin", "manager"):
        raise ValidationFailed({"job": "only managers and admins may import"})
    scope = Scope.for_staff(user["role"], user["id"], user["team"])
    return Importer(scope, None if user["role"] == "admin" else user["team"], user["id"], user["username"])


async def run_job(job_id: int) -> dict:
    """Run (or continue) a job that is running; mark it done or failed. Returns the job."""
    job = _decode(await ImportJob.select().where(ImportJob.id == job_id).first())
    if job["status"] != "running":
        return job
    try:
        who = await _importer(job)
        ctx = await context_for(job)
        totals: Counts = await process_file(job, ctx, who)
    except Exception as exc:
        if isinstance(exc, reader.UnreadableFile):
            message = exc.message
        elif isinstance(exc, ValidationFailed):
            message = str(exc)
            if len(exc.errors) == 1:
                message = next(iter(exc.errors.values()))
        else:
            message = "the import stopped on an unexpected error; the rows before it were saved"
        log.exception("import job %s failed", job_id)
        # the template is stored (translated when shown) and its values beside it
        error_values = getattr(message, "values", {})
        await ImportJob.update({
            ImportJob.status: "failed", ImportJob.error: getattr(message, "template", message)[:500],
            ImportJob.options: json.dumps({**job["options"], "error_values": error_values}),
            ImportJob.finished_at: now(),
        }).where(ImportJob.id == job_id)
        return await get_job(job_id)
    async with writing():
        # an XLSX's declared size may count blank rows: the result shows the rows read
        await raw("UPDATE import_job SET status = 'done', finished_at = {}, total_rows = processed "
                  "WHERE id = {}", now(), job_id)
        await record("import.run", actor_id=who.actor_id, actor=who.actor, target_type="import_job",
                     target_id=job_id, detail={
                         "kind": job["kind"], "rows": job["total_rows"], "created": totals.created,
                         "updated": totals.updated, "unchanged": totals.unchanged,
                         "rejected": totals.rejected,
                     })
    return await get_job(job_id)


async def claim_stale_jobs(stale_after: dt.timedelta = STALE_AFTER) -> list[int]:
    """Running jobs whose process stopped (no batch for `stale_after`): this process takes
    them over (one conditional update each, so two processes never take the same job) and
    the caller runs them again from their last committed batch."""
    cutoff = now() - stale_after
    rows = await ImportJob.select(ImportJob.id, ImportJob.heartbeat_at).where(
        (ImportJob.status == "running")
    )
    claimed = []
    for row in rows:
        beat = row["heartbeat_at"]
        if beat is not None and beat > cutoff:
            continue
        stamp = now()
        query = ImportJob.update({ImportJob.heartbeat_at: stamp}).where(
            (ImportJob.id == row["id"]) & (ImportJob.status == "running")
        )
        query = query.where(ImportJob.heartbeat_at == beat) if beat is not None else query.where(
            ImportJob.heartbeat_at.is_null()
        )
        if await query.returning(ImportJob.id):
            claimed.append(row["id"])
    return claimed


async def import_file(kind: str, path: Path, overrides: dict[str, str] | None = None,
                      default_channel: str = "") -> dict:
    """The command line: check the file and its columns first (ValidationFailed, nothing
    written), then import it in this process and return the finished job."""
    _kind(kind)
    info = await _inspect(path, path.name)
    fields = await custom_fields() if kind == "customers" else []
    chosen = mapping_mod.guess_mapping(info.headers, kind, fields)
    for header, field in (overrides or {}).items():
        if header not in info.headers:
            raise ValidationFailed({"mapping": f'the file has no column "{header}"'})
        if field:  # the field moves to this column
            for other, taken in chosen.items():
                if taken == field:
                    chosen[other] = ""
        chosen[header] = field
    cleaned = mapping_mod.clean_mapping(info.headers, chosen, kind, fields, default_channel)
    job_id = await create_job(kind, path, path.name, None, status="running", info=info)
    await ImportJob.update({
        ImportJob.mapping: json.dumps(cleaned, ensure_ascii=False),
        ImportJob.options: json.dumps({"default_channel": default_channel}),
        ImportJob.rejects_path: str(path.with_name(path.stem + "-rejected.csv").resolve()),
        ImportJob.started_at: now(), ImportJob.heartbeat_at: now(),
    }).where(ImportJob.id == job_id)
    return await run_job(job_id)
