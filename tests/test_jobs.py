"""Durable jobs (db/jobs): unique keys, exclusive claims under concurrency, leases, retries with
back-off, transactions, recurring rows, the nightly schedule and the admin page."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from db.clock import now
from db.engine import raw, writing
from db.jobs import kinds, queue


async def _jobs() -> list[dict]:
    return [queue._decode(r) for r in await raw("SELECT * FROM job ORDER BY id")]


@pytest.fixture
def registry():
    """Kinds registered by a test are forgotten after it."""
    saved = dict(queue._registry)
    yield queue.register
    queue._registry.clear()
    queue._registry.update(saved)
    queue._woken.clear()


async def _run_until(predicate, *workers, timeout: float = 10.0) -> None:
    tasks = [asyncio.create_task(w) for w in workers]
    try:
        for _ in range(int(timeout / 0.02)):
            if await predicate():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("timed out")
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_a_unique_key_is_enqueued_once_while_it_is_queued_or_running():
    first = await queue.enqueue("test.a", {"n": 1}, unique_key="k:1")
    assert first is not None
    assert await queue.enqueue("test.a", {"n": 2}, unique_key="k:1") is None
    assert await queue.enqueue("test.a", {"n": 3}, unique_key="k:2") is not None
    assert await queue.enqueue("test.a", {"n": 4}) is not None  # no key: always queued
    assert await queue.enqueue("test.a", {"n": 5}) is not None
    [job] = await queue.claim("w1", ["test.a"], 1)
    assert job["id"] == first and job["args"] == {"n": 1} and job["attempts"] == 1
    assert await queue.enqueue("test.a", unique_key="k:1") is None  # running counts too
    assert await queue.complete(job, "w1")
    again = await queue.enqueue("test.a", unique_key="k:1")  # done: the key is free again
    assert again is not None and again != first


async def test_concurrent_enqueues_of_one_key_make_one_job():
    results = await asyncio.gather(*[queue.enqueue("test.a", unique_key="same") for _ in range(10)])
    assert sum(r is not None for r in results) == 1
    assert len(await _jobs()) == 1


async def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist():
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with writing():
            assert await queue.enqueue("test.a", unique_key="gone") is not None
            raise Boom()
    assert await _jobs() == []
    async with writing():
        await queue.enqueue("test.a", unique_key="kept")
    assert [j["unique_key"] for j in await _jobs()] == ["kept"]


async def test_concurrent_claims_take_each_job_once():
    for i in range(40):
        await queue.enqueue("test.a", {"i": i})
    results = await asyncio.gather(*[queue.claim(f"w{n}", ["test.a"], 7) for n in range(8)])
    ids = [job["id"] for batch in results for job in batch]
    assert len(ids) == len(set(ids)) == 40
    assert {j["status"] for j in await _jobs()} == {"running"}


async def test_several_workers_run_each_job_once(registry):
    seen: list[int] = []

    async def handler(job):
        await asyncio.sleep(0.01)
        seen.append(job["args"]["i"])

    registry("test.count", handler)
    for i in range(60):
        await queue.enqueue("test.count", {"i": i})

    async def all_done():
        return await raw("SELECT id FROM job WHERE status <> 'done'") == []

    await _run_until(all_done, *[queue.run_worker(["test.count"], concurrency=4, poll_seconds=0.05)
                                 for _ in range(4)])
    assert sorted(seen) == list(range(60))


async def test_a_claim_takes_only_its_kinds_and_due_jobs():
    await queue.enqueue("test.a")
    await queue.enqueue("test.b")
    later = await queue.enqueue("test.a", run_after=now() + dt.timedelta(hours=1))
    claimed = await queue.claim("w", ["test.a"], 10)
    assert [j["kind"] for j in claimed] == ["test.a"]
    assert await queue.claim("w", ["test.a"], 10) == []
    # woken: queued jobs of that kind count as due now (a recurring poll brought forward)
    assert [j["id"] for j in await queue.claim("w", ["test.a"], 10, woken=["test.a"])] == [later]


async def test_an_expired_lease_is_claimed_again_and_the_old_worker_cannot_finish_it():
    await queue.enqueue("test.a", unique_key="lease")
    [job] = await queue.claim("dead-worker", ["test.a"], 1)
    assert await queue.claim("other", ["test.a"], 1) == []  # its lease is still good
    await raw("UPDATE job SET locked_until = {}", now() - dt.timedelta(seconds=1))
    [again] = await queue.claim("other", ["test.a"], 1)
    assert again["id"] == job["id"] and again["attempts"] == 2 and again["locked_by"] == "other"
    assert not await queue.complete(job, "dead-worker")
    assert await queue.complete(again, "other")


async def test_a_lease_that_runs_out_on_the_last_attempt_fails_the_job():
    await queue.enqueue("test.a", max_attempts=1)
    await queue.claim("dead-worker", ["test.a"], 1)
    await raw("UPDATE job SET locked_until = {}", now() - dt.timedelta(seconds=1))
    assert await queue.claim("other", ["test.a"], 1) == []
    [job] = await _jobs()
    assert job["status"] == "failed" and "stopped" in job["last_error"]


async def test_heartbeats_keep_the_lease():
    await queue.enqueue("test.a")
    [job] = await queue.claim("w", ["test.a"], 1)
    await raw("UPDATE job SET locked_until = {}", now() + dt.timedelta(seconds=5))
    await queue.heartbeat("w", [job["id"]])
    [row] = await _jobs()
    assert row["locked_until"] > now() + queue.LEASE - dt.timedelta(seconds=10)


def test_back_off_doubles_with_jitter_and_has_a_ceiling():
    for attempt in (1, 2, 3, 5):
        full = queue.BACKOFF_BASE_S * 2 ** (attempt - 1)
        delays = [queue.backoff(attempt) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays) and len(set(delays)) > 1
    assert queue.backoff(40) <= queue.MAX_BACKOFF_S


async def test_a_failing_job_is_retried_with_back_off_then_failed(registry):
    calls = []

    async def handler(job):
        calls.append(job["attempts"])
        raise RuntimeError(f"attempt {job['attempts']} broke")

    registry("test.fail", handler, max_attempts=3)
    await queue.enqueue("test.fail", unique_key="f")
    for attempt in (1, 2):
        [job] = await queue.claim("w", ["test.fail"], 1)
        before = now()
        await queue._run_one(job, "w")
        [row] = await _jobs()
        assert row["status"] == "queued" and row["last_error"] == f"RuntimeError: attempt {attempt} broke"
        wait = (row["run_after"] - before).total_seconds()
        full = queue.BACKOFF_BASE_S * 2 ** (attempt - 1)
        assert full / 2 - 1 <= wait <= full + 1
        await raw("UPDATE job SET run_after = {}", now())  # skip the wait
    [job] = await queue.claim("w", ["test.fail"], 1)
    await queue._run_one(job, "w")
    [row] = await _jobs()
    assert row["status"] == "failed" and row["attempts"] == 3 and calls == [1, 2, 3]
    assert row["finished_at"] is not None
    assert await queue.claim("w", ["test.fail"], 1) == []
    # an admin retries it: fresh attempts, queued now
    assert await queue.retry(row["id"])
    [row] = await _jobs()
    assert (row["status"], row["attempts"]) == ("queued", 0)
    assert not await queue.retry(row["id"])  # not failed any more


async def test_retrying_a_failed_job_whose_key_is_queued_again_is_refused():
    await queue.enqueue("test.a", unique_key="dup", max_attempts=1)
    [job] = await queue.claim("w", ["test.a"], 1)
    assert await queue.fail(job, "w", "broken") == "failed"
    await queue.enqueue("test.a", unique_key="dup")
    assert not await queue.retry(job["id"])


async def test_a_recurring_job_is_one_row_put_back_with_its_next_run(registry):
    runs = []

    async def handler(job):
        runs.append(job["id"])
        if len(runs) == 2:
            raise RuntimeError("one bad pass")

    registry("test.every", handler, every=lambda: 3600)
    await queue.enqueue("test.every", unique_key="test.every")
    for _ in range(3):
        await raw("UPDATE job SET run_after = {}", now())
        [job] = await queue.claim("w", ["test.every"], 1)
        await queue._run_one(job, "w")
    [row] = await _jobs()
    assert len(set(runs)) == 1 and len(runs) == 3
    assert row["status"] == "queued" and row["attempts"] == 0 and row["last_error"] == ""
    assert row["run_after"] > now() + dt.timedelta(minutes=59)


async def test_wake_runs_a_recurring_job_at_once(registry):
    runs = []

    async def handler(job):
        runs.append(now())

    registry("test.every", handler, every=lambda: 3600)
    await queue.enqueue("test.every", unique_key="test.every", run_after=now() + dt.timedelta(hours=1))
    task = asyncio.create_task(queue.run_worker(["test.every"], poll_seconds=30))
    try:
        await asyncio.sleep(0.2)
        assert runs == []
        queue.wake("test.every")
        for _ in range(100):
            if runs:
                break
            await asyncio.sleep(0.02)
        assert len(runs) == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_enqueue_wakes_the_worker_of_this_process(registry):
    done = asyncio.Event()

    async def handler(job):
        done.set()

    registry("test.quick", handler)
    task = asyncio.create_task(queue.run_worker(["test.quick"], poll_seconds=30))
    try:
        await asyncio.sleep(0.2)  # the worker is asleep for 30 s
        await queue.enqueue("test.quick")
        await asyncio.wait_for(done.wait(), 3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_stopping_a_worker_puts_its_running_jobs_back(registry):
    started = asyncio.Event()

    async def handler(job):
        started.set()
        await asyncio.sleep(60)

    registry("test.slow", handler)
    await queue.enqueue("test.slow")
    task = asyncio.create_task(queue.run_worker(["test.slow"], poll_seconds=0.05))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await _jobs()
    assert (row["status"], row["attempts"], row["locked_by"]) == ("queued", 0, "")


def test_a_process_runs_only_the_kinds_turned_on(settings_env):
    from db.settings import get_settings

    settings_env(CRM_NIGHTLY_AT="03:00", CRM_REMINDERS="on", CRM_PUSH_SENDER="on")
    always = {"import.run", "import.recover", "figures.refresh", "figures.warm"}
    assert set(kinds.kinds_for(get_settings())) == {"nightly", "reminders", "push.send", *always}
    settings_env(CRM_NIGHTLY_AT="off", CRM_REMINDERS="off", CRM_PUSH_SENDER="off")
    assert set(kinds.kinds_for(get_settings())) == always


async def test_start_up_queues_the_recurring_rows_once_and_the_nights(registry, settings_env):
    from db.jobs import nightly
    from db.settings import get_settings

    settings_env(CRM_NIGHTLY_AT="03:00", CRM_REMINDERS="on", CRM_PUSH_SENDER="on")
    runs = kinds.install(lambda row: {}, lambda person: {}, get_settings())
    await kinds.schedule(runs)
    await kinds.schedule(runs)  # a second process starting
    rows = await _jobs()
    keys = sorted(r["unique_key"] for r in rows)
    day = nightly.due_day(now(), "03:00", get_settings().timezone)
    assert keys == sorted(["reminders", "push.send", "import.recover", f"nightly:{day}",
                           f"nightly:{day + dt.timedelta(days=1)}"])
    tonight = next(r for r in rows if r["unique_key"] == f"nightly:{day}")
    assert tonight["run_after"] <= now()  # the night that is due (missed) runs at once


async def test_the_nightly_job_runs_its_day_once_and_queues_the_next(registry, settings_env):
    from db.jobs import nightly
    from db.settings import get_settings

    settings_env(CRM_NIGHTLY_AT="03:00")
    kinds.install(lambda row: {}, lambda person: {}, get_settings())
    day = dt.date(2026, 12, 2)
    await nightly.queue_night(day, "03:00", "Asia/Shanghai", at=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    [job] = await _jobs()
    assert job["run_after"] == dt.datetime(2026, 12, 1, 19, 0, tzinfo=dt.timezone.utc)  # 03:00 in Shanghai
    await raw("UPDATE job SET run_after = {}", now())
    [claimed] = await queue.claim("w", ["nightly"], 1)
    await queue._run_one(claimed, "w")
    rows = {r["unique_key"]: r for r in await _jobs()}
    assert rows["nightly:2026-12-02"]["status"] == "done"
    assert rows["nightly:2026-12-03"]["status"] == "queued"
    assert await nightly.is_done(day)
    assert await nightly.run_day(day) is None  # whoever asks again: already done


async def test_an_import_started_on_the_page_runs_as_a_job(registry, settings_env, tmp_path):
    """start_in_background queues the run in the same transaction; the worker runs it."""
    from db.imports import jobs as imports
    from db.settings import get_settings
    from tests.import_helpers import mobile, write_csv

    kinds.install(lambda row: {}, lambda person: {}, get_settings())
    path = write_csv(tmp_path / "c.csv", [["姓名", "手机"]] + [[f"客户{i}", mobile(i)] for i in range(5)])
    job_id = await imports.create_job("customers", path, path.name, None)
    job = await imports.get_job(job_id)
    cleaned = {h: f for h, f in zip(imports.headers_of(job), ["name", "mobile"])}
    job = await imports.save_mapping(job, cleaned)
    assert await imports.start_in_background(job)
    assert not await imports.start_in_background(job)
    [queued] = await _jobs()
    assert (queued["kind"], queued["unique_key"]) == ("import.run", f"import:{job_id}")

    async def finished():
        return await raw("SELECT id FROM job WHERE status = 'done'") != []

    await _run_until(finished, queue.run_worker(["import.run"], poll_seconds=0.05))
    assert (await imports.get_job(job_id))["created"] == 5
    [row] = await _jobs()
    assert row["status"] == "done"


# ---------------------------------------------------------------- the admin page


async def _failed_job() -> int:
    await queue.enqueue("nightly", {"day": "2026-12-02"}, unique_key="nightly:2026-12-02",
                        max_attempts=1)
    [job] = await queue.claim("w", ["nightly"], 1)
    await queue.fail(job, "w", "RuntimeError: <script>disk full</script>")
    return job["id"]


async def test_the_jobs_page_shows_counts_and_failed_jobs_with_retry(signed_in_english):
    admin = await signed_in_english("root", role="admin", team=None)
    job_id = await _failed_job()
    await queue.enqueue("push.send", unique_key="x", run_after=now() + dt.timedelta(hours=1))
    page = await admin.get("/admin/jobs")
    assert page.status_code == 200 and "<html" in page.text
    assert "Background jobs" in page.text and "Nightly recompute" in page.text
    assert "&lt;script&gt;disk full" in page.text and "<script>disk" not in page.text
    assert f'action="/admin/jobs/{job_id}/retry"' in page.text
    fragment = await admin.get("/admin/jobs?status=failed", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="jobs"' in fragment.text and "Nightly recompute" in fragment.text
    assert "Push notifications" not in fragment.text  # only the failed ones
    retried = await admin.post(f"/admin/jobs/{job_id}/retry", data={"_csrf_token": admin.csrf},
                               follow_redirects=False)
    assert retried.status_code == 303 and "msg=retried" in retried.headers["location"]
    assert (await admin.get(retried.headers["location"])).text.count("Queued again.") == 1
    [row] = await raw("SELECT status FROM job WHERE id = {}", job_id)
    assert row["status"] == "queued"
    more = await admin.get("/more")
    assert 'href="/admin/jobs"' in more.text


async def test_the_jobs_page_is_paginated_newest_first(signed_in):
    admin = await signed_in("root", role="admin", team=None)
    for i in range(queue.PAGE + 5):
        await queue.enqueue("test.a", {"i": i})
    rows, next_before = await queue.listing()
    assert len(rows) == queue.PAGE and rows[0]["id"] > rows[-1]["id"] and next_before == rows[-1]["id"]
    rest, last = await queue.listing(before=next_before)
    assert last is None and len({r["id"] for r in rows + rest}) >= queue.PAGE + 5
    page = await admin.get("/admin/jobs")
    assert f"before={next_before}" in page.text
    assert (await admin.get("/admin/jobs", params={"before": "9" * 30})).status_code == 200


async def test_the_jobs_page_is_for_admins_only(client, signed_in):
    job_id = await _failed_job()
    staff = await signed_in("wang.fang", role="staff")
    manager = await signed_in("li.manager", role="manager")
    for who in (staff, manager):
        assert (await who.get("/admin/jobs")).status_code == 403
        refused = await who.post(f"/admin/jobs/{job_id}/retry", data={"_csrf_token": who.csrf},
                                 follow_redirects=False)
        assert refused.status_code == 403
    assert (await client.get("/admin/jobs", follow_redirects=False)).status_code == 303
    [row] = await raw("SELECT status FROM job WHERE id = {}", job_id)
    assert row["status"] == "failed"
    assert "/admin/jobs" not in (await staff.get("/more")).text
