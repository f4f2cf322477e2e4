"""Property-based test of the points ledger: random sequences of everything that moves points
(orders and their replays and refunds, reward redemptions with limited stock, staff
adjustments, API debits with replayed keys, expiry runs at advancing dates), and after every
step the rules that must always hold.

Hypothesis drives a state machine (RuleBasedStateMachine). The test starts from the clean,
migrated database; each example then has customers, a reward and keys of its own (a reset
per example costs seconds on PostgreSQL), and the rules are checked over the whole database,
earlier examples included. The steps run on an event loop of the test's own, as a
synchronous Hypothesis test must. The shop's clock is moved
forward by the "days pass" step, so lots earned on different days expire on different dates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from db.clock import SHOP_TZ
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.engine import engine, raw, reading
from db.members import config, expiry, ledger, membership
from db.orders import ingest

ACTOR = Actor(None, "property-test")
STAFF = Actor(7, "wang.fang")
STOCK = 3
COST = 120
EXPIRY = {
    "1 month": {"expiry": "months", "expiry_months": 1},
    "year end after": {"expiry": "year_end_after"},
    "never": {"expiry": "never"},
}
EXAMPLES = 40
STEPS = 30
SEEN: dict[str, int] = {}  # what the examples did (printed with -s), to see they reach every case


def seen(what: str) -> None:
    SEEN[what] = SEEN.get(what, 0) + 1


async def check_ledger_rules(member_ids: list[int] | None = None) -> None:
    """The rules, straight from the tables, for these members (or everyone); shared with
    tests/test_points_concurrency.py."""
    where, args = "", []
    if member_ids is not None:
        where = f"WHERE m.id IN ({', '.join('{}' for _ in member_ids)})"
        args = list(member_ids)
    members = await raw(
        "SELECT m.id, m.points_balance, "
        "(SELECT COALESCE(SUM(delta), 0) FROM points_entry e WHERE e.member = m.id) AS entries, "
        "(SELECT COALESCE(SUM(remaining), 0) FROM points_lot l WHERE l.member = m.id) AS lots "
        f"FROM member m {where}", *args)
    for row in members:
        assert row["points_balance"] == row["entries"] == row["lots"], row
        assert row["points_balance"] >= 0, row
    scoped = where.replace("m.id", "member")
    lots = await raw(f"SELECT id FROM points_lot {scoped} {'AND' if scoped else 'WHERE'} "
                     "(remaining < 0 OR remaining > amount)", *args)
    assert lots == []
    twice = await raw("SELECT idempotency_key, COUNT(*) AS n FROM points_entry "
                      "GROUP BY idempotency_key HAVING COUNT(*) > 1")
    assert twice == []
    per_order = await raw(
        f"SELECT source_id, kind, COUNT(*) AS n FROM points_entry {scoped} "
        f"{'AND' if scoped else 'WHERE'} source_type = 'order' "
        "GROUP BY source_id, kind HAVING COUNT(*) > 1", *args)
    assert per_order == [], "an order earned or was reversed twice"
    reversed_unearned = await raw(
        f"SELECT r.id FROM points_entry r {scoped.replace('member', 'r.member')} "
        f"{'AND' if scoped else 'WHERE'} r.kind = 'reverse' AND r.source_type = 'order' "
        "AND NOT EXISTS (SELECT 1 FROM points_entry e WHERE e.kind = 'earn' "
        "AND e.source_type = 'order' AND e.source_id = r.source_id)", *args)
    assert reversed_unearned == []
    stock = await raw("SELECT id, stock FROM reward WHERE stock < 0")
    assert stock == []
    # each entry's balance_after is the sum of the member's entries up to it (in id order):
    # the history a member reads adds up
    running: dict[int, int] = {}
    for e in await raw(f"SELECT id, member, kind, delta, balance_after FROM points_entry {scoped} "
                       "ORDER BY id", *args):
        running[e["member"]] = running.get(e["member"], 0) + e["delta"]
        assert e["balance_after"] == running[e["member"]], e


class LedgerMachine(RuleBasedStateMachine):
    """One example: three members and a customer who is not one, a reward with STOCK left."""

    loop: asyncio.AbstractEventLoop
    clock: list[dt.timedelta]  # how far the shop's clock is ahead of the real one
    client = None  # one test client (the app on this loop) for every example

    orders = Bundle("orders")

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    examples = 0

    @initialize(mode=st.sampled_from(sorted(EXPIRY)))
    def start(self, mode):
        LedgerMachine.examples += 1
        self.n = LedgerMachine.examples
        self.run(self._setup(mode))

    async def _setup(self, mode: str) -> None:
        from db.customers.tables import ShopSetting

        cfg = {**json.loads(json.dumps(config.PointsConfig().__dict__)), **EXPIRY[mode]}
        await ShopSetting.delete().where(ShopSetting.key == config.KEY)
        await ShopSetting.insert(ShopSetting(key=config.KEY, value=json.dumps(cfg), updated_at=ledger.now()))
        config.forget()
        self.customers = []
        # three members and one customer who is not a member; their own per example
        self.mobiles = [f"138{self.n:04d}{i:04d}" for i in range(4)]
        for i, mobile in enumerate(self.mobiles):
            cid = (await upsert_customer(parse_customer({"name": f"会员{i}", "mobile": mobile}), ACTOR))[0]
            self.customers.append(cid)
        self.members = {}
        for cid in self.customers[:3]:
            self.members[cid] = (await membership.join(cid, "staff", ACTOR))["id"]
        stamp = ledger.now()
        kind = await raw("INSERT INTO coupon_type (name, kind, amount_off_fen, percent_off, min_spend_fen, "
                         "valid_days, active, created_at) VALUES ('满100减10', 'amount', 1000, 0, 10000, 30, "
                         "{}, {}) RETURNING id", True, stamp)
        reward = await raw("INSERT INTO reward (name, description, points_cost, stock, coupon_type, active, "
                           "created_at) VALUES ('10元券', '', {}, {}, {}, {}, {}) RETURNING id",
                           COST, STOCK, kind[0]["id"], True, stamp)
        self.reward = reward[0]["id"]
        from db.staff.accounts import create_api_key

        self.api_key = await create_api_key("property-test")
        self.next_order = 0
        self.redeemed_keys: dict[str, int] = {}  # key -> member that redeemed with it
        self.api_keys: dict[str, tuple[int, int]] = {}  # key -> (customer, delta) first sent
        self.api_entries: dict[str, int] = {}  # key -> entry id it wrote
        self.earned_orders: set[int] = set()
        self.today = dt.datetime.now(SHOP_TZ).date()

    # ---------------------------------------------------------------- orders

    def _order(self, customer: int, external_id: str, total_fen: int, status: str):
        mobile = self.mobiles[self.customers.index(customer)]
        parsed = ingest.parse_order({
            "channel": "tmall", "external_id": external_id, "customer": {"mobile": mobile},
            "placed_at": dt.datetime.now(SHOP_TZ).isoformat(), "status": status,
            "total": f"{total_fen // 100}.{total_fen % 100:02d}"})
        return self.run(ingest.ingest_order(parsed, ACTOR))[0]

    @rule(target=orders, who=st.integers(0, 3), total_fen=st.integers(1, 60_000))
    def new_paid_order(self, who, total_fen):
        self.next_order += 1
        external_id = f"P{self.n}-{self.next_order}"
        customer = self.customers[who]
        order_id = self._order(customer, external_id, total_fen, "paid")
        return (order_id, customer, external_id, total_fen)

    @rule(order=orders)
    def replay_order(self, order):
        order_id, customer, external_id, total_fen = order
        self._order(customer, external_id, total_fen, "paid")

    @rule(order=orders, times=st.integers(1, 2))
    def refund(self, order, times):
        order_id, customer, external_id, total_fen = order
        for _ in range(times):
            self._order(customer, external_id, total_fen, "refunded")
        seen(f"refund x{times}")

    # ---------------------------------------------------------------- points

    @rule(who=st.integers(0, 2), key=st.sampled_from(["r1", "r2", "r3", "r4", "r5", "r6"]))
    def redeem(self, who, key):
        member = self.members[self.customers[who]]
        key = f"{self.n}-{key}"
        try:
            result = self.run(ledger.redeem(member, self.reward, key, "till"))
        except (ledger.OutOfStock, ledger.InsufficientPoints, ledger.KeyReused) as exc:
            seen(f"redeem: {type(exc).__name__}")
            return
        seen("redeem: replayed" if result.replayed else "redeem: taken")
        if key in self.redeemed_keys and self.redeemed_keys[key] == member:
            assert result.replayed
        else:
            assert not result.replayed and key not in self.redeemed_keys
            assert result.coupon is not None and result.entry["delta"] == -COST
            self.redeemed_keys[key] = member

    @rule(who=st.integers(0, 2), delta=st.integers(-400, 400).filter(bool), key=st.integers(0, 30))
    def staff_adjustment(self, who, delta, key):
        member = self.members[self.customers[who]]
        try:
            self.run(ledger.adjust(member, delta, "盘点更正", f"adj-{self.n}-{key}", STAFF, "manager"))
        except (ledger.InsufficientPoints, ledger.KeyReused) as exc:
            seen(f"adjust: {type(exc).__name__}")

    @rule(who=st.integers(0, 3), delta=st.integers(-150, 150).filter(bool),
          key=st.sampled_from(["a", "b", "c", "d"]))
    def api_points(self, who, delta, key):
        customer = self.customers[who]
        key = f"{self.n}-{key}"
        response = self.run(self._api_post(customer, delta, key))
        first = self.api_keys.get(key)
        seen(f"api: {response.status_code}")
        if customer not in self.members:
            assert response.status_code == 409, response.text  # not a member
            return
        if first is not None:
            if first == (customer, delta):
                assert response.status_code == 200, response.text
                assert response.json()["entry"]["id"] == self.api_entries[key]
            else:
                assert response.status_code == 409, response.text  # key reused for another request
            return
        if response.status_code == 409:  # beyond the balance: nothing written
            return
        assert response.status_code == 201, response.text
        self.api_keys[key] = (customer, delta)
        self.api_entries[key] = response.json()["entry"]["id"]

    async def _api_post(self, customer: int, delta: int, key: str):
        return await self.client.post(
                f"/api/v1/customers/{customer}/points",
            json={"delta": delta, "reason": "小程序兑换", "idempotency_key": key,
                  "points_balance": 10**9},
            headers={"Authorization": f"Bearer {self.api_key}"})

    @rule(days=st.sampled_from([0, 1, 5, 12, 25, 33, 50, 400]))
    def days_pass_and_expiry_runs(self, days):
        self.clock[0] += dt.timedelta(days=days)
        self.today = (dt.datetime.now(SHOP_TZ) + self.clock[0]).date()
        expired = self.run(expiry.expire_due(self.today, chunk=2))  # small chunks: several per run
        seen("expiry: some lots" if expired else "expiry: none due")
        left = self.run(raw("SELECT COUNT(*) AS n FROM points_lot WHERE expires_on < {} "
                            "AND remaining > 0 AND member IN ({}, {}, {})", self.today,
                            *self.members.values()))
        assert left[0]["n"] == 0

    @precondition(lambda self: hasattr(self, "today"))
    @rule()
    def expiry_runs_again(self):
        assert self.run(expiry.expire_due(self.today)) == 0

    # ---------------------------------------------------------------- after every step

    @invariant()
    def rules_hold(self):
        if hasattr(self, "members"):
            self.run(self._rules_hold())

    async def _rules_hold(self):
        async with reading():
            await check_ledger_rules(list(self.members.values()))
            await self._example_rules()

    async def _example_rules(self):
        taken = (await raw("SELECT COUNT(*) AS n FROM redemption WHERE reward = {}", self.reward))[0]["n"]
        stock = (await raw("SELECT stock FROM reward WHERE id = {}", self.reward))[0]["stock"]
        assert taken == STOCK - stock == len(self.redeemed_keys)
        coupons = await raw("SELECT COUNT(*) AS n FROM coupon c JOIN redemption d ON d.id = c.redemption "
                            "WHERE d.reward = {}", self.reward)
        assert coupons[0]["n"] == taken
        # no one but members earns; every paid order of a member earned once
        outsider = await raw("SELECT COUNT(*) AS n FROM member WHERE customer = {}", self.customers[3])
        assert outsider[0]["n"] == 0
        unearned = await raw(
            "SELECT o.id FROM \"order\" o JOIN member m ON m.customer = o.customer "
            "WHERE o.total_fen >= 100 AND NOT EXISTS (SELECT 1 FROM points_entry e "
            "WHERE e.idempotency_key = 'order:' || o.id || ':earn')")
        assert unearned == []
        unreversed = await raw(
            "SELECT o.id FROM \"order\" o WHERE o.status = 'refunded' "
            "AND EXISTS (SELECT 1 FROM points_entry e WHERE e.idempotency_key = 'order:' || o.id || ':earn') "
            "AND NOT EXISTS (SELECT 1 FROM points_entry e WHERE e.idempotency_key = 'order:' || o.id || ':reverse')")
        assert unreversed == []


def test_ledger_rules_hold_after_every_step(app, monkeypatch):
    import httpx

    from tests.conftest import BASE_URL

    clock = [dt.timedelta(0)]
    real_now = ledger.now
    monkeypatch.setattr(ledger, "now", lambda: real_now() + clock[0])
    monkeypatch.setattr(expiry, "now", lambda: real_now() + clock[0])
    loop = asyncio.new_event_loop()
    pooled = False
    try:
        LedgerMachine.loop = loop
        LedgerMachine.clock = clock
        pooled = engine().engine_type == "postgres"
        if pooled:  # a connection per query costs most of the time otherwise; closed below
            loop.run_until_complete(engine().start_connection_pool(min_size=1, max_size=4))
        # The API through httpx's ASGI transport: the app runs in this loop's task, on the pool.
        LedgerMachine.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                 base_url=BASE_URL)
        machine = LedgerMachine.TestCase
        machine.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow,
                                                           HealthCheck.filter_too_much],
                                    database=None, derandomize=False)
        machine("runTest").runTest()
        print("\nwhat the examples did:", dict(sorted(SEEN.items())))
    finally:
        if LedgerMachine.client is not None:
            loop.run_until_complete(LedgerMachine.client.aclose())
            LedgerMachine.client = None
        if pooled:
            loop.run_until_complete(engine().close_connection_pool())
        loop.close()
