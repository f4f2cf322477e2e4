"""Web Push: 10,000 queued messages delivered to a local push service, end to end.

    python -m tests.bench.bench_push [--users 2000] [--devices 5] [--receiver-process] [--keep]

Without CRM_DATABASE_URL it migrates a throw-away SQLite file; with it (a scratch database:
`createdb bench_push`, then CRM_DATABASE_URL=postgresql://…/bench_push) it uses that one and
deletes the rows it made at the end. The users and their subscriptions are written directly
in SQL; then it times `enqueue` (one call for all users) and `run_sender()` (the loop every
app process runs) until the receiver (tests/push_receiver.py, on the same event loop and
CPU, so the figure is conservative) has answered every message and the outbox shows them
all sent. Target: well under 60 s for 10,000 messages. Exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")
if not os.environ.get("CRM_DATABASE_URL"):
    _TMP = tempfile.mkdtemp(prefix="bench-push-")
    os.environ["CRM_DATABASE_URL"] = f"sqlite:///{_TMP}/crm.sqlite3"
    os.environ.setdefault("CRM_DATA_DIR", f"{_TMP}/data")
os.environ["CRM_PUSH_ALLOW_HTTP"] = "1"
os.environ["CRM_PUSH_ALLOWED_HOSTS"] = "127.0.0.1"

TARGET_S = 60.0
PREFIX = "bench-push-"


async def _rows(table_sql: str, rows: list[tuple], width: int) -> None:
    from db.engine import raw, writing

    per = max(1, 900 // width)  # SQLite allows 999 parameters in older builds
    async with writing():
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            marks = ", ".join("(" + ", ".join("{}" for _ in range(width)) + ")" for _ in chunk)
            await raw(table_sql + marks, *[v for row in chunk for v in row])


async def _setup(users: int, devices: int, endpoint) -> list[int]:
    from db.clock import now
    from db.engine import raw
    from tests.webpush_client import WebPushClient

    stamp = now()
    await _rows("INSERT INTO staff_user (username, display_name, password_hash, role, is_active, "
                "totp_enabled, password_changed_at, created_at) VALUES ",
                [(f"{PREFIX}{i}", f"Bench {i}", "!", "staff", True, False, stamp, stamp)
                 for i in range(users)], 8)
    ids = [r["id"] for r in await raw("SELECT id FROM staff_user WHERE username LIKE {} "
                                      "ORDER BY id", PREFIX + "%")]
    keys = WebPushClient("x").subscription()["keys"]  # one key pair: encryption cost is the same
    subs = [(uid, endpoint(f"/{uid}/{d}"), keys["p256dh"], keys["auth"], "bench", stamp, 0)
            for uid in ids for d in range(devices)]
    await _rows("INSERT INTO push_subscription (\"user\", endpoint, p256dh, auth, user_agent, "
                "created_at, failures) VALUES ", subs, 7)
    return ids


async def _cleanup() -> None:
    from db.engine import raw, writing

    async with writing():  # subscriptions and messages go with the users (ON DELETE CASCADE)
        await raw("DELETE FROM staff_user WHERE username LIKE {}", PREFIX + "%")


async def _sent_count() -> int:
    from db.engine import raw

    return (await raw("SELECT count(*) AS n FROM push_message WHERE state = 'sent'"))[0]["n"]


class _OtherProcess:
    """The receiver in a child process; counts come from its /__stats."""

    def __init__(self):
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-m", "tests.push_receiver"],
                                     stdout=subprocess.PIPE, text=True)
        self.origin = self.proc.stdout.readline().strip()

    def endpoint(self, path: str) -> str:
        return self.origin + path

    async def stats(self) -> dict:
        import aiohttp

        async with aiohttp.ClientSession() as s, s.get(self.origin + "/__stats") as r:
            return await r.json()

    async def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (await self.stats())["total"] < count:
            if time.monotonic() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.05)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


async def main(users: int, devices: int, keep: bool, separate: bool = False) -> int:
    from db.engine import engine
    from db.push.outbox import enqueue, wake
    from db.push.sender import run_sender
    from tests.push_receiver import PushReceiver
    from web.cli import _migrate
    from db.settings import get_settings

    settings = get_settings()
    await _migrate()
    eng = engine()
    if eng.engine_type == "postgres":
        await eng.start_connection_pool(min_size=1, max_size=settings.db_pool_size or 10)
    total = users * devices
    try:
        async with (_OtherProcess() if separate else PushReceiver()) as rx:
            rx.record_bodies = False
            await _cleanup()
            t0 = time.perf_counter()
            ids = await _setup(users, devices, rx.endpoint)
            t_setup = time.perf_counter() - t0

            t0 = time.perf_counter()
            queued = await enqueue(ids, {"title": "跟进提醒", "body": "基准测试", "url": "/today"},
                                   ref="bench")
            t_enqueue = time.perf_counter() - t0
            assert queued == total, (queued, total)

            t0 = time.perf_counter()
            task = asyncio.create_task(run_sender())
            wake()
            await rx.wait_for(total, timeout=300)
            t_received = time.perf_counter() - t0
            while await _sent_count() < total:
                await asyncio.sleep(0.05)
            t_done = time.perf_counter() - t0
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if separate:
                duplicates = (await rx.stats())["duplicates"]
            else:
                duplicates = sum(n - 1 for n in rx.counts.values() if n > 1)
    finally:
        if not keep:
            await _cleanup()
        if eng.engine_type == "postgres":
            await eng.close_connection_pool()

    where = "its own process" if separate else "the same process"
    print(f"engine       {eng.engine_type}  ({platform.python_version()}, {os.cpu_count()} cores, "
          f"concurrency {settings.push_concurrency}, receiver in {where})")
    print(f"messages     {total:,} ({users:,} users × {devices} devices); setup {t_setup:.1f} s")
    print(f"enqueue      {t_enqueue:.2f} s  (one INSERT … SELECT per 1,000 users)")
    print(f"all received {t_received:.2f} s  ({total / t_received:,.0f} messages/s)")
    print(f"all recorded {t_done:.2f} s  ({total / t_done:,.0f} messages/s end to end)")
    print(f"duplicates   {duplicates}")
    ok = t_enqueue + t_done < TARGET_S and duplicates == 0
    print(f"target       enqueue + delivery < {TARGET_S:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--devices", type=int, default=5)
    parser.add_argument("--receiver-process", action="store_true",
                        help="run the push receiver in a process of its own")
    parser.add_argument("--keep", action="store_true", help="keep the rows it made")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.users, args.devices, args.keep, args.receiver_process)))
