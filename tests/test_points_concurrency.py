"""The points ledger under real concurrency: several server worker processes (`crm serve
--workers 3`, tests/server.py) answering the API at once, and several plain processes
redeeming rewards or running expiry at the same moment (there is no HTTP route for those).
Every test ends with the ledger's rules checked over the whole database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter

import httpx

from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.engine import raw
from db.members import ledger, membership
from tests.server import ROOT, running_server
from tests.test_points_properties import check_ledger_rules

ACTOR = Actor(None, "concurrency-test")
MOBILE = "13812345678"

# Run in each helper process: wait for the common start time, then do its share at once.
WORKER = r"""
import asyncio, datetime as dt, json, os, sys, time
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")
from db.engine import engine

async def main(job):
    eng = engine()
    if eng.engine_type == "postgres":  # as a server worker would: on a pool
        await eng.start_connection_pool(min_size=1, max_size=5)
    from db.members import expiry, ledger
    await asyncio.sleep(max(0, job["start_at"] - time.time()))
    if job["op"] == "redeem":
        async def one(key):
            try:
                result = await ledger.redeem(job["member"], job["reward"], key, "till")
                return "replayed" if result.replayed else "redeemed"
            except ledger.OutOfStock:
                return "out of stock"
            except ledger.InsufficientPoints:
                return "insufficient"
        out = await asyncio.gather(*[one(k) for k in job["keys"]])
    else:
        out = await expiry.expire_due(dt.date.fromisoformat(job["today"]), chunk=job["chunk"])
    if eng.engine_type == "postgres":
        await eng.close_connection_pool()
    return out

print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
"""


def run_processes(jobs: list[dict], lead_s: float = 2.0) -> list:
    """Start one process per job, all told to begin at the same moment; their results."""
    start_at = time.time() + lead_s
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CRM_LOG_LEVEL": "WARNING"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, json.dumps({**job, "start_at": start_at})],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for job in jobs]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-3000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


async def add_member(mobile: str = MOBILE, name: str = "王芳") -> tuple[int, int]:
    cid = (await upsert_customer(parse_customer({"name": name, "mobile": mobile}), ACTOR))[0]
    member = await membership.join(cid, "staff", ACTOR)
    return cid, member["id"]


async def balance(member_id: int) -> int:
    return (await membership.get(member_id))["points_balance"]


async def post_all(base: str, key: str, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                 limits=httpx.Limits(max_connections=len(requests))) as client:
        return await asyncio.gather(*[client.post(path, json=body) for path, body in requests])


def order_payload(status: str = "paid") -> dict:
    return {"channel": "tmall", "external_id": "TM-RACE", "customer": {"mobile": MOBILE},
            "placed_at": "2026-11-30T10:00:00+08:00", "status": status, "total": "388.00"}


async def test_twenty_api_debits_against_a_balance_of_100(api_key):
    cid, mid = await add_member()  # the sign-up bonus: 100 points
    assert await balance(mid) == 100
    with running_server(workers=3) as base:
        responses = await post_all(base, api_key, [
            (f"/api/v1/customers/{cid}/points",
             {"delta": -10, "reason": "小程序兑换", "idempotency_key": f"debit-{i}"})
            for i in range(20)])
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 10, 409: 10}, [r.text for r in responses]
    assert await balance(mid) == 0
    debits = await raw("SELECT delta, balance_after FROM points_entry WHERE member = {} AND delta < 0", mid)
    assert len(debits) == 10 and all(d["delta"] == -10 for d in debits)
    assert sorted(d["balance_after"] for d in debits) == list(range(0, 100, 10))
    await check_ledger_rules()


async def test_the_same_order_twenty_times_and_its_refund_twice(api_key):
    cid, mid = await add_member()
    with running_server(workers=3) as base:
        responses = await post_all(base, api_key, [("/api/v1/orders", order_payload())] * 20)
        assert Counter(r.status_code for r in responses) == {201: 1, 200: 19}, [r.text for r in responses]
        assert await balance(mid) == 100 + 388
        refunds = await post_all(base, api_key, [("/api/v1/orders", order_payload("refunded"))] * 2)
        assert all(r.status_code == 200 for r in refunds), [r.text for r in refunds]
    kinds = Counter(e["kind"] for e in await raw(
        "SELECT kind FROM points_entry WHERE member = {} AND source_type = 'order'", mid))
    assert kinds == {"earn": 1, "reverse": 1}
    assert await balance(mid) == 100
    assert len(await raw('SELECT id FROM "order"')) == 1
    await check_ledger_rules()


async def test_twenty_reward_redemptions_against_a_stock_of_ten():
    _, mid = await add_member()
    await ledger.post(mid, 10_000, kind="adjust", reason="top up", source_type="staff", key="top-up")
    stamp = ledger.now()
    kind = await raw("INSERT INTO coupon_type (name, kind, amount_off_fen, percent_off, min_spend_fen, "
                     "valid_days, active, created_at) VALUES ('满100减10', 'amount', 1000, 0, 10000, 30, {}, {}) "
                     "RETURNING id", True, stamp)
    reward = (await raw("INSERT INTO reward (name, description, points_cost, stock, coupon_type, active, "
                        "created_at) VALUES ('10元券', '', 100, 10, {}, {}, {}) RETURNING id",
                        kind[0]["id"], True, stamp))[0]["id"]
    # four processes, five redemptions each at once (distinct keys)
    jobs = [{"op": "redeem", "member": mid, "reward": reward,
             "keys": [f"p{p}-{i}" for i in range(5)]} for p in range(4)]
    results = [r for out in run_processes(jobs) for r in out]
    assert Counter(results) == {"redeemed": 10, "out of stock": 10}
    assert (await raw("SELECT stock FROM reward WHERE id = {}", reward))[0]["stock"] == 0
    assert await balance(mid) == 100 + 10_000 - 10 * 100
    assert len(await raw("SELECT id FROM redemption WHERE reward = {}", reward)) == 10
    assert len(await raw("SELECT id FROM coupon WHERE member = {}", mid)) == 10
    await check_ledger_rules()


async def test_two_expiry_runs_at_once_expire_each_lot_once():
    from db.demo import load_demo

    await load_demo(customers=400, seed=9, now=dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC),
                    points_entries=20_000)
    today = dt.date(2027, 1, 1)  # everything earned in 2025 expires on the night of 1 January
    due = await raw("SELECT id, member, remaining FROM points_lot WHERE expires_on < {} AND remaining > 0",
                    today)
    assert len(due) > 1_000
    before = {m["id"]: m["points_balance"] for m in await raw("SELECT id, points_balance FROM member")}
    last_entry = (await raw("SELECT MAX(id) AS n FROM points_entry"))[0]["n"]
    first, second = run_processes([{"op": "expire", "today": today.isoformat(), "chunk": 25}] * 2)
    # Each lot once between them. How they share the work is up to timing: on PostgreSQL the
    # second waits on the first's member locks and may then find every lot already at zero.
    assert first + second == len(due)
    expired = await raw("SELECT source_id, delta, member FROM points_entry WHERE id > {}", last_entry)
    assert {e["kind"] for e in await raw("SELECT kind FROM points_entry WHERE id > {}", last_entry)} == {"expire"}
    assert Counter(e["source_id"] for e in expired) == Counter(lot["id"] for lot in due)
    assert {e["source_id"]: -e["delta"] for e in expired} == {lot["id"]: lot["remaining"] for lot in due}
    left = await raw("SELECT COUNT(*) AS n FROM points_lot WHERE expires_on < {} AND remaining > 0", today)
    assert left[0]["n"] == 0
    lost = Counter()
    for lot in due:
        lost[lot["member"]] += lot["remaining"]
    after = {m["id"]: m["points_balance"] for m in await raw("SELECT id, points_balance FROM member")}
    assert all(after[m] == before[m] - lost[m] for m in before)
    await check_ledger_rules()
