"""A task cancelled while its write transaction begins (a job worker stopping mid-job) leaves
no write lock behind: later writes do not fail "database is locked" (db/engine.py)."""

import asyncio
import contextlib

import pytest
from piccolo.engine.sqlite import TransactionType

from db.engine import engine, is_sqlite, raw, writing


async def test_a_write_cancelled_while_it_begins_leaves_no_lock():
    if not is_sqlite():
        pytest.skip("the BEGIN IMMEDIATE race is SQLite's")
    tx = engine().transaction(transaction_type=TransactionType.immediate)
    entering = asyncio.ensure_future(tx.__aenter__())
    while not hasattr(tx, "connection"):  # it has its connection: now it awaits BEGIN
        await asyncio.sleep(0)
    entering.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await entering
    # a connection left in its transaction would make this wait out the busy timeout and fail
    async with asyncio.timeout(10):
        async with writing():
            await raw("UPDATE staff_user SET display_name = display_name WHERE id = -1")
