"""Report files made in the background: asked for, made by the `report.generate` job
(reports/jobs.py) with its progress stored, downloadable by whoever asked for 7 days.

- **One file for the same question.** A file's key is its report, parameters, format and the
  scope it is made with (two managers of one team asking for the same month get the same
  figures). While a file with that key is queued or running, a second asker joins it (a row in
  report_file_request) instead of starting another job; a partial unique index on the key
  settles a race between two processes. A finished file is not reused: the next question gets
  fresh figures.
- **Only the askers** see and download a file (it was made with their scope).
- **Audited**: every request, and every download, with who and the parameters.
- **Kept 7 days** after it was asked for; `purge` (the recurring `report.purge` job) deletes
  older ones.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from db.actor import Actor
from db.audit.log import record
from db.clock import now
from db.customers.scope import Scope
from db.engine import as_datetime, is_unique_violation, raw, writing
from db.errors import NotFound
from db.jobs import queue

KEEP = dt.timedelta(days=7)
FORMATS = {"pdf", "xlsx"}
LISTED = 20  # the most files /reports lists for one person


@dataclass(frozen=True)
class Request:
    """What is asked for: a report by name, its parameters ({"from", "to", "channel",
    "team", "lang"}: text, as the URL names them), the format and the asker's scope."""

    report: str
    params: dict
    fmt: str
    scope: Scope

    def key(self) -> str:
        scope = self.scope
        who = f"{scope.kind}:{scope.team_id if scope.kind != 'all' else ''}:" + (
            str(scope.user_id) if scope.kind == "own" else "")
        params = json.dumps(self.params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return f"{self.report}|{self.fmt}|{who}|{params}"[:400]


def _scope_json(scope: Scope) -> str:
    return json.dumps({"kind": scope.kind, "user_id": scope.user_id, "team_id": scope.team_id})


def scope_of(stored: str | dict) -> Scope:
    data = json.loads(stored) if isinstance(stored, str) else stored
    return Scope(data.get("kind", "own"), data.get("user_id"), data.get("team_id"))


def _row(row: dict) -> dict:
    row = dict(row)
    for key in ("created_at", "finished_at", "expires_at"):
        if key in row:
            row[key] = as_datetime(row[key])
    for key in ("params", "scope"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key] or "{}")
    if "progress" in row:
        row["progress"] = float(row["progress"] or 0)
    return row


async def request_file(ask: Request, actor: Actor) -> tuple[int, bool]:
    """The file that answers `ask`: (id, True) when this call started it, (id, False) when
    the asker joined one being made. Queues its `report.generate` job in the same
    transaction, and records the request in the audit log."""
    if ask.fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}")
    key = ask.key()
    for _attempt in range(3):
        try:
            file_id, started = await _request_once(ask, key, actor)
            break
        except Exception as exc:  # two processes inserted the same key at once: join theirs
            if not is_unique_violation(exc):
                raise
    else:  # pragma: no cover - the other's row would have been found on a retry
        raise RuntimeError("could not queue the report")
    return file_id, started


async def _request_once(ask: Request, key: str, actor: Actor) -> tuple[int, bool]:
    stamp = now()
    async with writing():
        found = await raw("SELECT id FROM report_file WHERE key = {} AND status IN ('queued', 'running') "
                          "ORDER BY id LIMIT 1", key)
        started = not found
        if found:
            file_id = found[0]["id"]
        else:
            rows = await raw(
                "INSERT INTO report_file (key, report, params, scope, fmt, status, progress, error, "
                "filename, media_type, pages, size, content, requested_by, created_at, finished_at, "
                "expires_at) VALUES ({}, {}, {}, {}, {}, 'queued', 0, '', '', '', NULL, 0, NULL, {}, {}, "
                "NULL, {}) RETURNING id",
                key, ask.report, json.dumps(ask.params, ensure_ascii=False), _scope_json(ask.scope), ask.fmt,
                actor.id, stamp, stamp + KEEP)
            file_id = rows[0]["id"]
            await queue.enqueue("report.generate", {"file_id": file_id}, unique_key=f"report:{file_id}")
        if actor.id is not None:
            await raw("INSERT INTO report_file_request (file, \"user\", created_at) VALUES ({}, {}, {}) "
                      "ON CONFLICT DO NOTHING", file_id, actor.id, stamp)
        await record("report.request", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="report_file", target_id=file_id,
                     detail={"report": ask.report, "format": ask.fmt, "params": ask.params,
                             "joined": not started})
    return file_id, started


_FIELDS = ("id, report, params, scope, fmt, status, progress, error, filename, media_type, pages, size, "
           "requested_by, created_at, finished_at, expires_at")


async def job_file(file_id: int) -> dict | None:
    """The file as its job sees it (no content)."""
    rows = await raw(f"SELECT {_FIELDS} FROM report_file WHERE id = {{}}", file_id)
    return _row(rows[0]) if rows else None


async def get_file(file_id: int, user_id: int) -> dict:
    """A file one of whose askers is `user_id` (else NotFound), without its content."""
    rows = await raw(
        f"SELECT {', '.join('f.' + c.strip() for c in _FIELDS.split(','))} FROM report_file f "
        "JOIN report_file_request r ON r.file = f.id WHERE f.id = {} AND r.\"user\" = {} "
        "AND f.expires_at > {}", file_id, user_id, now())
    if not rows:
        raise NotFound()
    return _row(rows[0])


async def download(file_id: int, actor: Actor) -> tuple[dict, bytes]:
    """A finished file's row and bytes for one of its askers (NotFound otherwise); audited."""
    if actor.id is None:
        raise NotFound()
    info = await get_file(file_id, actor.id)
    if info["status"] != "done":
        raise NotFound()
    rows = await raw("SELECT content FROM report_file WHERE id = {}", file_id)
    content = bytes(rows[0]["content"] or b"")
    await record("export.report_file", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                 target_type="report_file", target_id=file_id,
                 detail={"report": info["report"], "format": info["fmt"], "params": info["params"],
                         "bytes": len(content)})
    return info, content


async def recent_files(user_id: int, limit: int = LISTED) -> list[dict]:
    """The files this person asked for that are still kept, newest first (no content)."""
    return [_row(r) for r in await raw(
        f"SELECT {', '.join('f.' + c.strip() for c in _FIELDS.split(','))} FROM report_file f "
        "JOIN report_file_request r ON r.file = f.id WHERE r.\"user\" = {} AND f.expires_at > {} "
        "ORDER BY f.id DESC LIMIT {}", user_id, now(), limit)]


async def askers(file_id: int) -> list[int]:
    return [r["user"] for r in await raw(
        "SELECT \"user\" FROM report_file_request WHERE file = {} ORDER BY id", file_id)]


async def start(file_id: int) -> bool:
    """The job begins (again, after a retry): False when the file is already finished."""
    async with writing():
        rows = await raw("UPDATE report_file SET status = 'running', progress = 0, error = '' "
                         "WHERE id = {} AND status IN ('queued', 'running') RETURNING id", file_id)
    return bool(rows)


async def set_progress(file_id: int, progress: float) -> None:
    progress = min(1.0, max(0.0, float(progress)))
    async with writing():
        await raw("UPDATE report_file SET progress = {} WHERE id = {} AND status = 'running'",
                  progress, file_id)


async def finish(file_id: int, content: bytes, filename: str, media_type: str,
                 pages: int | None) -> bool:
    """Store the made file (True), once."""
    async with writing():
        rows = await raw(
            "UPDATE report_file SET status = 'done', progress = 1, content = {}, size = {}, filename = {}, "
            "media_type = {}, pages = {}, finished_at = {} WHERE id = {} AND status = 'running' RETURNING id",
            content, len(content), filename[:200], media_type[:100], pages, now(), file_id)
    return bool(rows)


async def fail(file_id: int, error: str) -> None:
    async with writing():
        await raw("UPDATE report_file SET status = 'failed', error = {}, finished_at = {} "
                  "WHERE id = {} AND status IN ('queued', 'running')", error[:2000], now(), file_id)


async def retrying(file_id: int, error: str) -> None:
    """An attempt failed and the job will try again: the page says so meanwhile."""
    async with writing():
        await raw("UPDATE report_file SET status = 'queued', error = {} WHERE id = {} AND status = 'running'",
                  error[:2000], file_id)


async def purge(at: dt.datetime | None = None) -> int:
    """Delete the files kept past their 7 days (their askers' rows go with them)."""
    async with writing():
        rows = await raw("DELETE FROM report_file WHERE expires_at <= {} RETURNING id", at or now())
    return len(rows)
