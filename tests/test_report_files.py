"""Report files made in the background (db/reports/files.py, reports/jobs.py `report.generate`,
web/reports/files.py): the job runs a real report, stores its progress and the file, queues a
push to each asker, keeps the file 7 days; two identical requests make one job."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from db.actor import Actor
from db.clock import now
from db.customers.scope import Scope
from db.engine import as_datetime, raw
from db.errors import NotFound
from db.figures.filters import make_filter
from db.figures.period import Period
from db.jobs import queue
from db.reports import files
from reports import jobs as report_jobs

REPORT = "retention"  # a report whose template is written
PERIOD = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


@pytest.fixture
def report_kinds():
    saved = dict(queue._registry)
    report_jobs.install()
    yield
    queue._registry.clear()
    queue._registry.update(saved)
    queue._woken.clear()


async def team_of(user_id: int) -> int | None:
    return (await raw("SELECT team FROM staff_user WHERE id = {}", user_id))[0]["team"]


async def ask(user_id: int, role: str = "manager", fmt: str = "pdf", username: str = "zhao.manager"):
    scope = Scope.for_staff(role, user_id, await team_of(user_id))
    filt = make_filter(scope)
    params = {**PERIOD.query(), **filt.query(), "lang": "zh-CN"}
    return await files.request_file(files.Request(REPORT, params, fmt, scope), Actor(user_id, username))


async def add_device(user_id: int, n: int = 1) -> None:
    await raw("INSERT INTO push_subscription (\"user\", member, endpoint, p256dh, auth, user_agent, created_at, "
              "failures) VALUES ({}, NULL, {}, 'k', 'a', '', {}, 0)", user_id,
              f"https://fcm.googleapis.com/fcm/send/test-{user_id}-{n}", now())


async def run_generate(timeout: float = 60.0) -> None:
    task = asyncio.create_task(queue.run_worker(["report.generate"], poll_seconds=0.05))
    try:
        for _ in range(int(timeout / 0.05)):
            await asyncio.sleep(0.05)
            rows = await raw("SELECT COUNT(*) AS n FROM job WHERE kind = 'report.generate' AND status IN "
                             "('queued', 'running')")
            if int(rows[0]["n"]) == 0:
                return
        raise AssertionError("the report job did not finish")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_job_makes_the_file_stores_progress_and_tells_the_asker(report_kinds, make_user, monkeypatch):
    zhao = await make_user("zhao.manager", "manager")
    await add_device(zhao)
    file_id, started = await ask(zhao)
    assert started
    [job] = await raw("SELECT kind, unique_key, status FROM job WHERE kind = 'report.generate'")
    assert (job["unique_key"], job["status"]) == (f"report:{file_id}", "queued")
    seen: list[float] = []
    real = files.set_progress

    async def watch(fid, share):
        seen.append(share)
        await real(fid, share)

    monkeypatch.setattr(report_jobs, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(files, "set_progress", watch)
    await run_generate()
    assert seen and seen == sorted(seen) and 0 < seen[0] < 1  # stored as it went
    info = await files.get_file(file_id, zhao)
    assert (info["status"], info["progress"], info["fmt"]) == ("done", 1.0, "pdf")
    assert info["filename"].endswith("_2026-11-01_2026-11-30.pdf") and info["pages"] >= 1
    _, content = await files.download(file_id, Actor(zhao, "zhao.manager"))
    assert content.startswith(b"%PDF-") and len(content) == info["size"]
    [push] = await raw("SELECT payload, ttl, ref FROM push_message")
    payload = json.loads(push["payload"])
    assert payload["url"] == f"/reports/files/{file_id}" and payload["title"] == "报表已生成"
    assert push["ref"] == f"report-file:{file_id}"
    actions = [r["action"] for r in await raw("SELECT action FROM audit_entry ORDER BY id")]
    assert actions == ["report.request", "report.generated", "export.report_file"]


async def test_two_managers_asking_at_once_share_one_job_and_both_get_it(report_kinds, make_user):
    zhao = await make_user("zhao.manager", "manager")
    qian = await make_user("qian.manager", "manager")  # the same team
    await add_device(zhao)
    await add_device(qian)
    (first, a), (second, b) = await asyncio.gather(ask(zhao), ask(qian, username="qian.manager"))
    assert first == second and sorted([a, b]) == [False, True]
    assert len(await raw("SELECT id FROM job WHERE kind = 'report.generate'")) == 1
    await run_generate()
    assert len(await raw("SELECT id FROM push_message")) == 2  # both are told
    for user in (zhao, qian):
        assert [f["id"] for f in await files.recent_files(user)] == [first]
    # a manager of another team asking the same gets a file of their own (other figures)
    other = await make_user("sun.manager", "manager", "华南门店组")
    third, started = await ask(other, username="sun.manager")
    assert started and third != first
    with pytest.raises(NotFound):
        await files.get_file(first, other)  # and may not open the first
    # once made, the same question again gets fresh figures
    again, started = await ask(zhao)
    assert started and again not in (first, third)


async def test_files_are_kept_seven_days_then_purged(report_kinds, make_user):
    zhao = await make_user("zhao.manager", "manager")
    file_id, _ = await ask(zhao)
    await run_generate()
    [row] = await raw("SELECT created_at, expires_at FROM report_file")
    kept = files.KEEP.total_seconds()
    assert abs((as_datetime(row["expires_at"]) - as_datetime(row["created_at"])).total_seconds() - kept) < 1
    assert await files.purge(now() + dt.timedelta(days=6)) == 0
    assert len(await files.recent_files(zhao)) == 1
    await raw("UPDATE report_file SET expires_at = {}", now() - dt.timedelta(seconds=1))
    assert await files.recent_files(zhao) == []  # gone from the list at once
    with pytest.raises(NotFound):
        await files.download(file_id, Actor(zhao, "zhao.manager"))
    assert await files.purge() == 1
    assert await raw("SELECT id FROM report_file_request") == []


async def test_an_unknown_report_fails_the_file_without_retrying(report_kinds, make_user):
    zhao = await make_user("zhao.manager", "manager")
    scope = Scope.for_staff("manager", zhao, await team_of(zhao))
    file_id, _ = await files.request_file(files.Request("nope", {**PERIOD.query()}, "pdf", scope),
                                          Actor(zhao, "zhao.manager"))
    await run_generate()
    info = await files.get_file(file_id, zhao)
    assert info["status"] == "failed" and "nope" in info["error"]


# ---------------------------------------------------------------- the pages


async def test_the_progress_page_polls_then_offers_the_download(report_kinds, signed_in_english):
    zhao = await signed_in_english("zhao.manager", "manager")
    file_id, _ = await ask(zhao.user_id)
    page = await zhao.get(f"/reports/files/{file_id}")
    assert page.status_code == 200 and "<html" in page.text
    assert f'hx-get="/reports/files/{file_id}"' in page.text and 'hx-trigger="every 1s"' in page.text
    fragment = await zhao.get(f"/reports/files/{file_id}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "<progress" in fragment.text
    await run_generate()
    done = await zhao.get(f"/reports/files/{file_id}", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.text and f"/reports/files/{file_id}/download" in done.text
    download = await zhao.get(f"/reports/files/{file_id}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert download.content.startswith(b"%PDF-")
    assert "filename*=UTF-8''" in download.headers["content-disposition"]
    listing = await zhao.get("/reports/files")
    assert f'href="/reports/files/{file_id}"' in listing.text


async def test_another_person_cannot_open_or_download_a_file(report_kinds, signed_in):
    zhao = await signed_in("zhao.manager", "manager")
    li = await signed_in("li.staff", "staff")
    file_id, _ = await ask(zhao.user_id)
    await run_generate()
    assert (await li.get(f"/reports/files/{file_id}")).status_code == 404
    assert (await li.get(f"/reports/files/{file_id}/download")).status_code == 404
    assert (await li.get("/reports/files/99999999")).status_code == 404
