"""The report kinds of background work (db/jobs), registered by the app at start-up
(web/app.py `_background`, beside db/jobs/kinds.py's: db must not import reports/).

| kind              | what                                                   | when |
| ----------------- | ------------------------------------------------------ | ---- |
| `report.generate` | make one report file (db/reports/files.py), its progress stored; push to each asker when ready | `report:FILE`, queued when asked for |
| `report.schedule` | write the due weekly / monthly deliveries and queue them | recurring, every minute; only with CRM_SMTP_URL |
| `report.deliver`  | build one delivery's PDF with the recipient's scope and e-mail it; retried with back-off | `deliver:DELIVERY` |
| `report.purge`    | delete report files past their 7 days                  | recurring, hourly |
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from db import mail
from db.clock import now
from db.engine import raw
from db.customers.shop_profile import shop_profile
from db.errors import Forbidden
from db.figures.filters import ReportFilter
from db.figures.period import Period
from db.jobs import queue
from db.push import outbox
from db.reports import files, subscriptions
from db.settings import Settings, get_settings
from reports import build as builder
from reports import render
from db.i18n import N_

log = logging.getLogger("crm.reports")

SCHEDULE_EVERY_S = 60.0
PURGE_EVERY_S = 3600.0
PROGRESS_EVERY_S = 0.5  # the progress bar polls every second or two: no need to write more often
GENERATE_ATTEMPTS = 3
RECURRING = {"report.schedule": "report.schedule", "report.purge": "report.purge"}


def _lang(locale: str | None) -> str:
    return render.lang_code(locale or "zh-CN")  # the shop's language when they chose none


def _t(message: str, **values) -> str:
    text = render.gettext(message)
    return text % values if values else text


# ---------------------------------------------------------------- one file


async def generate(job: dict) -> None:
    file_id = int(job["args"]["file_id"])
    info = await files.job_file(file_id)
    if info is None or not await files.start(file_id):
        return  # purged, or finished by an earlier attempt
    params = info["params"]
    last = [0.0]

    async def progress(share: float) -> None:
        if share >= 1.0 or time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            await files.set_progress(file_id, share * 0.98)  # 100 % once it is stored

    try:
        period = Period(dt.date.fromisoformat(params["from"]), dt.date.fromisoformat(params["to"]))
        filt = ReportFilter(files.scope_of(info["scope"]), params.get("channel") or None,
                            int(params["team"]) if params.get("team") not in (None, "") else None)
        built = await builder.build(info["report"], period, filt, info["fmt"],
                                    lang=_lang(params.get("lang")), progress=progress,
                                    actor=f"job:{job['id']}")
    except builder.UnknownReport as exc:  # never better on a retry
        await files.fail(file_id, str(exc))
        return
    except Exception as exc:
        if job["attempts"] >= job["max_attempts"]:
            await files.fail(file_id, f"{type(exc).__name__}: {exc}")
        else:
            await files.retrying(file_id, f"{type(exc).__name__}: {exc}")
        raise
    if await files.finish(file_id, built.content, built.filename, built.media_type, built.pages):
        await _tell_askers(file_id, info["report"], params)


async def _tell_askers(file_id: int, report: str, params: dict) -> None:
    """A push to everyone who asked, in their language, with the file's page."""
    people = await files.askers(file_id)
    if not people:
        return
    rows = await _locales(people)
    title = builder.REPORTS[report].title if report in builder.REPORTS else report
    for lang in sorted(set(rows.values())):
        with builder.language(lang):
            payload = {"title": _t(N_("Your report is ready")),
                       "body": _t(N_("%(report)s, %(start)s to %(end)s: tap to download."),
                                  report=render.gettext(title), start=params.get("from"), end=params.get("to")),
                       "url": f"/reports/files/{file_id}"}
        await outbox.enqueue([u for u, code in rows.items() if code == lang], payload,
                             ref=f"report-file:{file_id}", ttl=7 * 86400)
    outbox.wake()


async def _locales(user_ids: list[int]) -> dict[int, str]:
    marks = ", ".join("{}" for _ in user_ids)
    found = await raw(f"SELECT id, locale FROM staff_user WHERE id IN ({marks})", *user_ids)
    return {r["id"]: _lang(r["locale"]) for r in found}


# ---------------------------------------------------------------- scheduled e-mail


async def schedule(job: dict) -> None:
    new = await subscriptions.queue_due(get_settings().timezone)
    if new:
        log.info("queued %d report deliveries", len(new))


async def deliver(job: dict) -> None:
    delivery_id = int(job["args"]["delivery_id"])
    item = await subscriptions.delivery(delivery_id)
    if item is None:
        return  # the subscription was removed
    attempt = await subscriptions.begin_attempt(delivery_id)
    if attempt is None:
        return  # sent already
    last = job["attempts"] >= job["max_attempts"]
    try:
        if not item["is_active"] or item["role"] not in subscriptions.MANAGERS:
            raise Forbidden(f"{item['username']} is no longer an active manager or admin")
        if not item["email"]:
            raise mail.MailError(f"{item['username']} has no e-mail address")
        filt = subscriptions.filter_for(
            {"id": item["user_id"], "role": item["role"], "team_id": item["team_id"]},
            item["params"].get("channel"), item["params"].get("team"))
        lang = _lang(item["locale"])
        built = await builder.build(item["report"], item["period"], filt, "pdf", lang=lang,
                                    actor=f"subscription:{item['subscription_id']}")
        msg = await _compose(item, built, lang)
        await mail.send(msg)
    except Exception as exc:
        error = str(exc) if isinstance(exc, (mail.MailError, Forbidden)) else f"{type(exc).__name__}: {exc}"
        stop = last or isinstance(exc, Forbidden)
        await subscriptions.failed_attempt(delivery_id, error, stop)
        if isinstance(exc, Forbidden):
            return  # a retry cannot help: shown on the schedule page
        raise
    await subscriptions.sent(item)


async def _compose(item: dict, built: builder.Built, lang: str):
    profile = await shop_profile()
    report = builder.REPORTS.get(item["report"])
    base = get_settings().base_url or "http://127.0.0.1:8000"
    with builder.language(lang):
        title = render.gettext(report.title) if report else item["report"]
        period = _t(N_("%(start)s to %(end)s"), start=item["period_start"], end=item["period_end"])
        every = _t(N_("every Monday")) if item["cadence"] == "weekly" else _t(N_("on the 1st of every month"))
        subject = _t(N_("%(shop)s: %(report)s, %(period)s"), shop=profile.name, report=title, period=period)
        text = "\n\n".join([
            _t(N_("Hello %(name)s,"), name=item["display_name"] or item["username"]),
            _t(N_("Attached is %(report)s for %(period)s, with the figures you may see in the CRM."),
               report=title, period=period),
            _t(N_("You receive this report %(every)s. Manage the schedule at %(url)s"),
               every=every, url=f"{base}/reports/schedules"),
            profile.name,
        ])
    return mail.message(item["email"], subject, text, attachments=((built.filename, built.content, built.media_type),))


# ---------------------------------------------------------------- housekeeping


async def purge(job: dict) -> None:
    gone = await files.purge()
    if gone:
        log.info("deleted %d report files past their 7 days", gone)


def install(settings: Settings | None = None) -> list[str]:
    """Register the report kinds, and the reports' data with the figure store; returns the
    kinds this process runs (the schedule only when e-mail is set up: without it nothing is
    delivered, and the schedule page says so)."""
    settings = settings or get_settings()
    builder.register_figures()
    queue.register("report.generate", generate, max_attempts=GENERATE_ATTEMPTS)
    queue.register("report.deliver", deliver, max_attempts=subscriptions.DELIVER_ATTEMPTS)
    queue.register("report.schedule", schedule, every=lambda: SCHEDULE_EVERY_S, max_attempts=3)
    queue.register("report.purge", purge, every=lambda: PURGE_EVERY_S, max_attempts=3)
    runs = ["report.generate", "report.deliver", "report.purge"]
    if settings.smtp_url:
        runs.append("report.schedule")
    return runs


async def start(runs: list[str]) -> None:
    """At start: the recurring rows of the report kinds this process runs (no-ops when
    another process made them)."""
    for kind, key in RECURRING.items():
        if kind in runs:
            await queue.enqueue(kind, unique_key=key, run_after=now())
