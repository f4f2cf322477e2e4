"""Reminders end to end: 10,000 follow-ups whose reminders fall due in the same minute, from
the reminder loop's claim to the local push service's answer.

    python -m tests.bench.bench_reminders [--reminders 10000] [--users 10000] [--receiver-process]

Without CRM_DATABASE_URL it migrates a throw-away SQLite file; with it (a scratch database)
it uses that one and deletes the rows it made. Users, their phones (one each) and the
follow-ups are written directly in SQL; then the two loops every app process runs are
started: `run_reminders` (claims due reminders, 500 a transaction, and queues one push per
device) and `run_sender` (delivers the outbox). The clock stops when the receiver has
answered every message and the database shows every reminder claimed and every message
sent. Target (issue 4): all 10,000 within 60 s. Exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from datetime import timedelta

from tests.bench import bench_push  # sets up the environment (throw-away SQLite, local push)
from tests.bench.bench_push import _OtherProcess, _rows, _setup

TARGET_S = 60.0
HOUR = timedelta(hours=1)
CUSTOMER = "bench-reminders"


async def _follow_ups(ids: list[int], total: int) -> None:
    from db.clock import now
    from db.engine import raw

    stamp = now()
    due = stamp.replace(second=0, microsecond=0)  # everyone's reminder: this very minute
    await raw("INSERT INTO customer (name, mobile, email, gender, lifecycle_stage, created_at, updated_at) "
              "VALUES ({}, {}, {}, {}, {}, {}, {})", CUSTOMER, None, None, "unknown", "prospect", stamp, stamp)
    cid = (await raw("SELECT id FROM customer WHERE name = {}", CUSTOMER))[0]["id"]
    rows = [(cid, ids[i % len(ids)], "call", f"回访 {i}", "normal", "open", due + HOUR, due,
             "pending", False, "", "web", stamp - HOUR, stamp - HOUR)
            for i in range(total)]
    await _rows("INSERT INTO follow_up (customer, assignee, kind, title, priority, status, due_at, "
                "remind_at, reminder_state, reminder_late, outcome, source, created_at, updated_at) VALUES ",
                rows, 14)


async def _cleanup() -> None:
    from db.engine import raw, writing

    async with writing():
        await raw("DELETE FROM follow_up WHERE customer IN (SELECT id FROM customer WHERE name = {})", CUSTOMER)
        await raw("DELETE FROM customer WHERE name = {}", CUSTOMER)
    await bench_push._cleanup()


async def _counts() -> tuple[int, int]:
    from db.engine import raw

    claimed = (await raw("SELECT count(*) AS n FROM follow_up WHERE reminder_state = 'sent'"))[0]["n"]
    sent = (await raw("SELECT count(*) AS n FROM push_message WHERE state = 'sent'"))[0]["n"]
    return claimed, sent


async def main(total: int, users: int, separate: bool) -> int:
    from db.engine import engine
    from db.push.sender import run_sender
    from tests.push_receiver import PushReceiver
    from web.cli import _migrate
    from web.followups.reminders import run_reminder_loop
    from db.settings import get_settings

    settings = get_settings()
    await _migrate()
    eng = engine()
    if eng.engine_type == "postgres":
        await eng.start_connection_pool(min_size=1, max_size=settings.db_pool_size or 10)
    try:
        async with (_OtherProcess() if separate else PushReceiver()) as rx:
            rx.record_bodies = False
            await _cleanup()
            t0 = time.perf_counter()
            ids = await _setup(users, 1, rx.endpoint)
            await _follow_ups(ids, total)
            t_setup = time.perf_counter() - t0

            t0 = time.perf_counter()
            loops = [asyncio.create_task(run_reminder_loop()), asyncio.create_task(run_sender())]
            await rx.wait_for(total, timeout=300)
            t_received = time.perf_counter() - t0
            while await _counts() != (total, total):
                await asyncio.sleep(0.05)
            t_done = time.perf_counter() - t0
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            duplicates = (await rx.stats())["duplicates"] if separate else \
                sum(n - 1 for n in rx.counts.values() if n > 1)
            per_phone = total // users
    finally:
        await _cleanup()
        if eng.engine_type == "postgres":
            await eng.close_connection_pool()

    print(f"engine       {eng.engine_type}  ({platform.python_version()}, {os.cpu_count()} cores, "
          f"receiver in {'its own process' if separate else 'the same process'})")
    print(f"reminders    {total:,} due in the same minute ({users:,} people, one phone each, "
          f"{per_phone} reminders a phone); setup {t_setup:.1f} s")
    print(f"all received {t_received:.2f} s  ({total / t_received:,.0f} reminders/s)")
    print(f"all recorded {t_done:.2f} s  (claimed, queued, sent and marked)")
    print(f"duplicates   {duplicates}")
    ok = t_done < TARGET_S and duplicates == 0
    print(f"target       all {total:,} within {TARGET_S:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--receiver-process", action="store_true")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.reminders, args.users, args.receiver_process)))
