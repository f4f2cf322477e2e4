"""Lifecycle stage, RFM and order figures: kept current on ingest, recomputed for everyone,
and the same on both engines."""

import datetime as dt

import pytest

from db.clock import now
from db.customers import lifecycle
from db.actor import Actor
from db.customers.tables import Customer
from db.engine import raw
from db.errors import ValidationFailed
from db.orders.ingest import ingest_order, parse_order

ACTOR = Actor(None, "test")


def ago(days: float) -> str:
    return (now() - dt.timedelta(days=days)).isoformat()


async def order(mobile: str, external_id: str, days_ago: float, total: str = "100.00",
                status: str = "paid", channel: str = "tmall") -> int:
    parsed = parse_order({
        "channel": channel, "external_id": external_id, "customer": {"mobile": mobile, "name": "客户"},
        "placed_at": ago(days_ago), "status": status, "total": total,
    })
    return (await ingest_order(parsed, ACTOR))[1]


async def customer(customer_id: int) -> dict:
    return await Customer.select().where(Customer.id == customer_id).first()


async def test_ingest_keeps_figures_and_stage_current():
    cid = await order("13800000001", "A1", days_ago=200, total="1000.00")
    row = await customer(cid)
    assert (row["orders_count"], row["total_spent_fen"], row["lifecycle_stage"]) == (1, 100000, "churned")
    await order("13800000001", "A2", days_ago=120, total="50.50")
    row = await customer(cid)
    assert (row["orders_count"], row["total_spent_fen"], row["lifecycle_stage"]) == (2, 105050, "dormant")
    assert row["first_order_at"] < row["last_order_at"]
    await order("13800000001", "A3", days_ago=10)
    assert (await customer(cid))["lifecycle_stage"] == "active"


async def test_first_order_within_30_days_is_new_and_unpaid_orders_do_not_count():
    cid = await order("13800000002", "B1", days_ago=5, status="cancelled")
    row = await customer(cid)
    assert (row["orders_count"], row["lifecycle_stage"], row["rfm_r"]) == (0, "prospect", 0)
    await order("13800000002", "B2", days_ago=3)
    row = await customer(cid)
    assert (row["orders_count"], row["lifecycle_stage"]) == (1, "new")
    assert row["rfm_r"] >= 1


async def test_a_refund_takes_the_order_out_of_the_figures():
    cid = await order("13800000003", "C1", days_ago=40, total="300.00")
    await order("13800000003", "C2", days_ago=20, total="200.00")
    await order("13800000003", "C2", days_ago=20, total="200.00", status="refunded")
    row = await customer(cid)
    assert (row["orders_count"], row["total_spent_fen"]) == (1, 30000)
    assert row["lifecycle_stage"] == "active"


async def test_recompute_all_scores_rfm_by_quintile_and_moves_stages_with_time():
    ids = []
    for i in range(10):  # customer i: i+1 orders, the last one i*25 days ago, spending more each
        mobile = f"1390000{i:04d}"
        for k in range(i + 1):
            cid = await order(mobile, f"D{i}-{k}", days_ago=i * 25 + k, total=f"{(i + 1) * 100}.00")
        ids.append(cid)
    result = await lifecycle.recompute_all()
    assert result["customers"] == 10
    rows = {r["id"]: r for r in await Customer.select()}
    newest, oldest = rows[ids[0]], rows[ids[9]]
    assert (newest["rfm_r"], newest["rfm_f"], newest["rfm_m"]) == (5, 1, 1)
    assert (oldest["rfm_r"], oldest["rfm_f"], oldest["rfm_m"]) == (1, 5, 5)
    assert sorted(r["rfm_f"] for r in rows.values()) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Time passes without orders: the nightly recompute moves stages on.
    await raw("UPDATE customer SET lifecycle_stage = 'active'")
    await lifecycle.recompute_all()
    stages = {r["id"]: r["lifecycle_stage"] for r in await Customer.select()}
    assert [stages[ids[i]] for i in (0, 2, 6, 9)] == ["new", "active", "dormant", "churned"]


async def test_recompute_repairs_figures_written_behind_its_back():
    cid = await order("13800000004", "E1", days_ago=1, total="99.00")
    await raw("UPDATE customer SET orders_count = 7, total_spent_fen = 1, last_order_at = NULL")
    await lifecycle.recompute_all()
    row = await customer(cid)
    assert (row["orders_count"], row["total_spent_fen"]) == (1, 9900)
    assert row["last_order_at"] is not None


async def test_thresholds_are_configurable_and_validated():
    cid = await order("13800000005", "F1", days_ago=100)
    assert (await customer(cid))["lifecycle_stage"] == "dormant"
    await lifecycle.set_thresholds(30, 120, 365)
    await lifecycle.recompute_all()
    assert (await customer(cid))["lifecycle_stage"] == "active"
    assert await lifecycle.thresholds() == {"new_days": 30, "active_days": 120, "dormant_days": 365}
    for bad in [("0", "90", "180"), ("30", "200", "100"), ("x", "90", "180"), ("30", "90", "99999")]:
        with pytest.raises(ValidationFailed):
            await lifecycle.set_thresholds(*bad)
    assert await lifecycle.thresholds() == {"new_days": 30, "active_days": 120, "dormant_days": 365}


async def test_api_returns_the_figures(api):
    cid = await order("13800000006", "G1", days_ago=2, total="1299.50")
    body = (await api.get(f"/api/v1/customers/{cid}")).json()
    assert body["lifecycle_stage"] == "new" and body["orders_count"] == 1
    assert body["total_spent"] == "1299.50"
    assert set(body["rfm"]) == {"r", "f", "m"} and body["custom_fields"] == {}
    assert body["first_order_at"] == body["last_order_at"] and body["last_order_at"].startswith("20")


async def test_the_nightly_run_happens_once_per_day_whoever_asks():
    import asyncio

    from db.jobs import nightly

    cid = await order("13800000007", "H1", days_ago=100)
    await raw("UPDATE customer SET lifecycle_stage = 'new'")
    at = dt.datetime(2026, 12, 1, 19, 30, tzinfo=dt.timezone.utc)  # 03:30 on 2 December in Shanghai
    results = await asyncio.gather(*[nightly.run_if_due("03:00", "Asia/Shanghai", at) for _ in range(4)])
    assert sum(r is not None for r in results) == 1
    assert (await customer(cid))["lifecycle_stage"] == "dormant"
    assert await nightly.run_if_due("03:00", "Asia/Shanghai", at + dt.timedelta(hours=3)) is None
    # Before 03:00 the next day, the day that is due is still the one already done.
    assert nightly.due_day(at + dt.timedelta(hours=23), "03:00", "Asia/Shanghai") == dt.date(2026, 12, 2)


def test_recompute_command_prints_what_it_did():
    from click.testing import CliRunner

    from web.cli import main

    result = CliRunner().invoke(main, ["recompute"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output.startswith("Recomputed 0 customers")


async def test_concurrent_orders_for_one_customer_all_count():
    """Twelve orders for one person arriving at once: the figures include every one."""
    import asyncio

    first = await order("13800000008", "J0", days_ago=3, total="10.00")
    results = await asyncio.gather(
        *[order("13800000008", f"J{i}", days_ago=2, total="10.00") for i in range(1, 12)],
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, Exception)]
    row = await customer(first)
    assert (row["orders_count"], row["total_spent_fen"]) == (12, 12000)
