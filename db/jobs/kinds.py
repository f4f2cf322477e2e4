"""The kinds of background work this app runs on db/jobs, and which of them a process runs.

| kind            | what                                         | when                               |
| --------------- | -------------------------------------------- | ---------------------------------- |
| `nightly`       | lifecycle, RFM, rule tags, member jobs       | `nightly:DAY` at CRM_NIGHTLY_AT    |
| `reminders`     | queue due reminders and daily digests        | recurring, CRM_REMINDER_POLL_SECONDS |
| `push.send`     | deliver the push outbox                      | recurring, CRM_PUSH_POLL_SECONDS (woken by enqueue) |
| `import.run`    | run or continue one import                   | `import:ID`, queued when it starts |
| `import.recover`| imports whose process stopped (the CLI's)    | recurring, every minute            |
| `report.generate` | one report file in the background          | `report:FILE`, queued when asked for |
| `report.schedule` | queue the due weekly / monthly deliveries  | recurring, every minute (only with CRM_SMTP_URL) |
| `report.deliver`  | e-mail one delivery's PDF (retried)        | `deliver:DELIVERY`                 |
| `report.purge`    | delete report files past their 7 days      | recurring, hourly                  |
| `figures.refresh` | recompute one stale figure-store entry     | `figures:HASH`, queued by a view of stale figures |
| `figures.warm`    | fill the figure store for today            | `figures.warm:DAY`, at start when it is empty |

CRM_NIGHTLY_AT=off, CRM_REMINDERS=off and CRM_PUSH_SENDER=off leave that kind to other
processes. The words of reminders come from the web layer, which passes them in. The
report kinds call reports/ (which db must not import): reports/jobs.py registers them, and
the app's start-up (web/app.py) installs them beside these; it registers the reports' figures
with the figure store too (db/figures/store.register), so `figures.refresh` can recompute a
report's data as well as the dashboard's bundle registered here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from db.clock import now
from db.figures import store as figure_store, warm as figure_warm
from db.followups import reminders
from db.imports import jobs as imports
from db.jobs import nightly, queue
from db.push import sender
from db.settings import Settings, get_settings

log = logging.getLogger("crm.jobs")

RECOVER_EVERY_S = 60.0
RECOVER_FIRST_S = 10.0  # after start: a process that just restarted is not looked for at once
# The recurring rows' keys: one row each, put back in the queue after every run.
RECURRING_KEYS = {"reminders": "reminders", "push.send": "push.send",
                  "import.recover": "import.recover"}


def install(compose_reminder: Callable[[dict], dict], compose_digest: Callable[[dict], dict],
            settings: Settings | None = None) -> list[str]:
    """Register every kind's handler; returns the kinds this process runs."""
    settings = settings or get_settings()

    async def run_nightly(job: dict):
        return await nightly.handle(job, settings.nightly_at, settings.timezone)

    async def run_reminders(job: dict):
        return await reminders.run_pass(compose_reminder, compose_digest, settings.timezone)

    async def run_sender(job: dict):
        return await sender.drain()

    async def run_import(job: dict):
        return await imports.run_job(int(job["args"]["import_id"]))

    async def recover_imports(job: dict):
        for import_id in await imports.claim_stale_jobs():
            if await queue.enqueue("import.run", {"import_id": import_id},
                                   unique_key=f"import:{import_id}", max_attempts=3):
                log.warning("resuming import job %s: its process stopped", import_id)

    queue.register("nightly", run_nightly)
    queue.register("reminders", run_reminders, every=lambda: get_settings().reminder_poll_seconds,
                   max_attempts=3)
    queue.register("push.send", run_sender, every=lambda: get_settings().push_poll_seconds,
                   max_attempts=3)
    queue.register("import.run", run_import, max_attempts=3)
    queue.register("import.recover", recover_imports, every=lambda: RECOVER_EVERY_S, max_attempts=3)
    queue.register(figure_store.REFRESH_KIND, figure_store.refresh_job, max_attempts=2)
    queue.register(figure_warm.WARM_KIND, figure_warm.warm_job, max_attempts=2)
    return kinds_for(settings)


def kinds_for(settings: Settings) -> list[str]:
    kinds = ["import.run", "import.recover", figure_store.REFRESH_KIND, figure_warm.WARM_KIND]
    if settings.nightly_at != "off":
        kinds.append("nightly")
    if settings.reminders:
        kinds.append("reminders")
    if settings.push_sender:
        kinds.append("push.send")
    return kinds


async def schedule(kinds: list[str], settings: Settings | None = None) -> None:
    """At start: the recurring rows of the kinds this process runs (no-ops when another
    process made them) and the night that is due."""
    settings = settings or get_settings()
    for kind, key in RECURRING_KEYS.items():
        if kind in kinds:
            first = RECOVER_FIRST_S if kind == "import.recover" else 0.0
            await queue.enqueue(kind, unique_key=key,
                                run_after=now() + dt.timedelta(seconds=first))
    if "nightly" in kinds:
        await nightly.schedule(settings.nightly_at, settings.timezone)
    if figure_warm.WARM_KIND in kinds:
        await figure_warm.queue_if_empty()
