"""Reads the card makes on every request as raw SQL give what Piccolo's selects gave (issue 12):
the same keys in the same order and the same values and types, on both engines."""

from __future__ import annotations

import datetime as dt

from db.customers import fields
from db.customers.scope import Scope
from db.customers.service import get_customer
from db.customers.tables import Customer, CustomField
from db.members import catalogue
from db.members.tables import CouponType

UTC = dt.timezone.utc


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        assert (a[key], type(a[key])) == (b[key], type(b[key])), key


async def test_get_customer_is_the_piccolo_row():
    now = dt.datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    full = Customer(name="王芳", mobile="13800001111", email="w@example.com", gender="female",
                    birthday=dt.date(1990, 2, 3), province="浙江", city="杭州", address="西湖路 1 号",
                    first_channel="taobao", search_text="x", lifecycle_stage="active", rfm_r=5, rfm_f=4,
                    rfm_m=3, orders_count=7, total_spent_fen=123456789, first_order_at=now,
                    last_order_at=now, next_follow_up_on=dt.date(2026, 4, 1), created_at=now, updated_at=now)
    bare = Customer(name="李", created_at=now, updated_at=now)
    await Customer.insert(full, bare)
    for customer in (full, bare):
        piccolo = await Customer.select().where(Customer.id == customer.id).first()
        _same(await get_customer(Scope.everything(), customer.id), piccolo)


async def test_active_coupon_types_are_the_piccolo_rows():
    now = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    await CouponType.insert(
        CouponType(name="满100减10", kind="amount", amount_off_fen=1000, min_spend_fen=10000, valid_days=30,
                   active=True, created_at=now),
        CouponType(name="A 9折", kind="percent", percent_off=10, valid_from=now, valid_until=now + dt.timedelta(days=9),
                   active=True, created_at=now),
        CouponType(name="old", kind="amount", amount_off_fen=500, active=False, created_at=now),
    )
    piccolo = await CouponType.select().where(CouponType.active == True).order_by(CouponType.name)  # noqa: E712
    ours = await catalogue.list_coupon_types(active_only=True)
    assert len(ours) == len(piccolo) == 2
    for a, b in zip(ours, piccolo):
        _same(a, b)


async def test_list_fields_is_the_piccolo_rows():
    await fields.create_field("size", "尺码", "choice", ["S", "M"])
    await fields.create_field("note", "备注", "text")
    rows = await CustomField.select(
        CustomField.id, CustomField.key, CustomField.label, CustomField.kind, CustomField.choices,
        CustomField.position,
    ).order_by(CustomField.position).order_by(CustomField.id)
    ours = await fields.list_fields()
    assert [r["key"] for r in ours] == ["size", "note"]
    for a, b in zip(ours, rows):
        _same(a, fields._row(b))


async def test_a_long_read_off_the_loop_lets_the_loop_go_on():
    """db.engine.off_the_loop: a read of seconds (the figures of a year) must not stop the
    other requests of the process; on SQLite it runs in a worker thread."""
    import asyncio
    import time

    from db.engine import off_the_loop, raw

    slow = ("SELECT COUNT(*) AS n FROM (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL "
            "SELECT i + 1 FROM r WHERE i < {}) SELECT i FROM r) x")
    ticks = []

    async def ticker():
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        started = time.perf_counter()
        with off_the_loop():
            rows = await raw(slow, 3_000_000)
        took = time.perf_counter() - started
    finally:
        task.cancel()
    assert int(rows[0]["n"]) == 3_000_000
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert took > 0.1 and len(ticks) > 3  # the ticker ran while the read did
    assert max(gaps) < took * 0.8
