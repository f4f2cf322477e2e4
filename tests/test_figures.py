"""The key figures and breakdowns (db/figures) against a direct computation from the rows a
small shop's fixture wrote, on whichever engine the suite runs: scopes, channel, previous
period, an empty shop."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from db.customers.scope import Scope
from db.engine import raw
from db.customers.tables import LIFECYCLE_STAGES, Customer, Interaction
from db.figures.breakdowns import (followups_by_person, lifecycle_counts, members_by_tier,
                                   pipeline_by_stage)
from db.figures.filters import make_filter
from db.figures.key import DEFINITIONS, KEYS, Figure, key_figures
from db.figures.period import Period
from db.followups.tables import FollowUp
from db.members.tables import Member, PointsEntry, Tier
from db.orders.tables import CHANNELS, Order
from db.pipeline.tables import Opportunity, PipelineStage
from db.staff.tables import StaffUser

ZONE = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc
NOV = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
START = dt.datetime(2026, 8, 1, tzinfo=ZONE)


def rand_time(rng: random.Random, start=START, days=125) -> dt.datetime:
    return (start + dt.timedelta(seconds=rng.randrange(days * 86400))).astimezone(UTC)


@pytest.fixture
async def shop(make_user):
    return await build_shop(make_user)


async def build_shop(make_user) -> dict:
    """Two teams, a manager and two staff in team A, one staff in team B; 60 customers with
    orders (paid, refunded), members with points entries, follow-ups, interactions and deals."""
    rng = random.Random(13)
    users = {
        "boss": await make_user("boss", "admin", None),
        "ma": await make_user("ma", "manager", "A"),
        "sa1": await make_user("sa1", "staff", "A"),
        "sa2": await make_user("sa2", "staff", "A"),
        "sb": await make_user("sb", "staff", "B"),
    }
    team = {r["id"]: r["team"] for r in await StaffUser.select(StaffUser.id, StaffUser.team)}
    staff = [users["sa1"], users["sa2"], users["sb"], users["ma"]]
    tiers = [r["id"] for r in await Tier.select(Tier.id).order_by(Tier.position)]
    stages = [r["id"] for r in await PipelineStage.select(PipelineStage.id)]
    customers, orders, entries, followups, talks, deals, members = [], [], [], [], [], [], []
    for i in range(60):
        owner = rng.choice(staff + [None])
        cteam = team[owner] if owner else rng.choice([team[users["sa1"]], team[users["sb"]], None])
        created = rand_time(rng)
        row = dict(name=f"客户{i}", mobile=f"1380000{i:04d}", first_channel=rng.choice(CHANNELS[:3]),
                   owner=owner, team=cteam, created_at=created, updated_at=created,
                   lifecycle_stage=rng.choice(LIFECYCLE_STAGES))
        cid = (await Customer.insert(Customer(**row)).returning(Customer.id))[0]["id"]
        customers.append({"id": cid, **row})
        for _ in range(rng.randrange(0, 6)):
            placed = rand_time(rng)
            o = dict(channel=rng.choice(CHANNELS[:3]), external_id=f"o{len(orders)}", customer=cid,
                     placed_at=placed, status=rng.choice(["paid"] * 5 + ["refunded", "cancelled"]),
                     total_fen=rng.randrange(100, 99999), created_at=placed, updated_at=placed)
            await Order.insert(Order(**o))
            orders.append(o)
        if rng.random() < 0.5:
            balance, mid = 0, None
            mid = (await Member.insert(Member(
                customer=cid, member_no=f"M{i:05d}", joined_at=created, source="staff",
                tier=rng.choice(tiers), tier_since=created, points_balance=0,
                updated_at=created)).returning(Member.id))[0]["id"]
            members.append({"id": mid, "customer": cid})
            for k in range(rng.randrange(1, 6)):
                kind = "earn" if k == 0 else rng.choice(["earn", "redeem", "expire", "adjust", "reverse"])
                delta = rng.randrange(1, 500)
                if kind in ("redeem", "expire", "reverse") or (kind == "adjust" and rng.random() < .5):
                    delta = -min(delta, balance)
                    if delta == 0:
                        continue
                balance += delta
                at = rand_time(rng)
                await PointsEntry.insert(PointsEntry(
                    member=mid, kind=kind, delta=delta, balance_after=balance, reason="t",
                    source_type="staff", idempotency_key=f"k{mid}:{k}", created_at=at))
                entries.append({"customer": cid, "kind": kind, "delta": delta, "at": at})
            await Member.update({Member.points_balance: balance}).where(Member.id == mid)
        for _ in range(rng.randrange(0, 3)):
            due = rand_time(rng)
            status = rng.choice(["open", "done", "done", "cancelled"])
            done = due + dt.timedelta(hours=rng.randrange(-48, 72)) if status == "done" else None
            f = dict(customer=cid, assignee=rng.choice(staff + [None]), title="回访", status=status,
                     due_at=due, done_at=done, created_at=due, updated_at=due)
            await FollowUp.insert(FollowUp(**f))
            followups.append(f)
        if rng.random() < 0.4:
            t = dict(customer=cid, staff=rng.choice(staff), kind="call", happened_at=rand_time(rng),
                     created_at=START)
            await Interaction.insert(Interaction(**t))
            talks.append(t)
        if rng.random() < 0.4:
            status = rng.choice(["open", "won", "lost"])
            d = dict(customer=cid, title="单", amount_fen=rng.randrange(0, 10**6), owner=rng.choice(staff),
                     stage=rng.choice(stages), status=status, created_at=START, updated_at=START,
                     closed_at=rand_time(rng) if status != "open" else None)
            await Opportunity.insert(Opportunity(**d))
            deals.append(d)
    # What every ingest keeps current (db/customers/lifecycle.py): the first paid order.
    await raw("UPDATE customer SET first_order_at = (SELECT MIN(o.placed_at) FROM \"order\" o "
              "WHERE o.customer = customer.id AND o.status = 'paid')")
    return dict(users=users, team=team, customers=customers, orders=orders, entries=entries,
                followups=followups, talks=talks, deals=deals, members=members)


def scope_of(shop, name: str) -> Scope:
    role = {"boss": "admin", "ma": "manager"}.get(name, "staff")
    uid = shop["users"][name]
    return Scope.for_staff(role, uid, shop["team"][uid])


def covered(scope: Scope, c: dict, channel: str | None = None) -> bool:
    return scope.allows(c["owner"], c["team"]) and (channel is None or c["first_channel"] == channel)


def people(shop, scope: Scope) -> set[int | None]:
    if scope.kind == "own":
        return {scope.user_id}
    if scope.kind == "team":
        return {u for u, t in shop["team"].items() if t == scope.team_id}
    return set(shop["team"])


def half_up(part: int, whole: int, scale: int = 1) -> int | None:
    return None if whole == 0 else (part * scale * 2 + whole) // (2 * whole)


def expected(shop, period: Period, scope: Scope, channel: str | None = None) -> dict[str, int | None]:
    """Each key figure computed straight from the fixture's rows, as DEFINITIONS words it."""
    s, e = period.bounds()
    ps, pe = period.previous().bounds()
    mine = {c["id"]: c for c in shop["customers"] if scope.allows(c["owner"], c["team"])}
    paid = [o for o in shop["orders"] if o["status"] == "paid" and o["customer"] in mine
            and (channel is None or o["channel"] == channel)]
    inside = [o for o in paid if s <= o["placed_at"] < e]
    buyers = {o["customer"] for o in inside}
    per = {c: sum(1 for o in inside if o["customer"] == c) for c in buyers}
    earlier = {o["customer"] for o in paid if o["placed_at"] < s}
    repeat = sum(1 for c in buyers if per[c] >= 2 or c in earlier)
    before = {o["customer"] for o in paid if ps <= o["placed_at"] < pe}
    sales = sum(o["total_fen"] for o in inside)
    cust = {c["id"] for c in mine.values() if channel is None or c["first_channel"] == channel}
    ents = [x for x in shop["entries"] if x["customer"] in cust]
    held = sum(x["delta"] for x in ents if x["at"] < e)
    who = people(shop, scope)
    first = {c["id"]: c["first_channel"] for c in shop["customers"]}
    fus = [f for f in shop["followups"] if f["assignee"] in who and f["assignee"] is not None
           and (channel is None or first[f["customer"]] == channel)]
    at_now = dt.datetime.now(UTC)
    return {
        "new_customers": sum(1 for c in mine.values() if s <= c["created_at"] < e
                             and (channel is None or c["first_channel"] == channel)),
        "active_customers": len(buyers),
        "repurchase_rate": half_up(repeat, len(buyers), 1000),
        "churn_rate": half_up(len(before - buyers), len(before), 1000),
        "orders": len(inside),
        "sales_fen": sales,
        "average_order_fen": half_up(sales, len(inside)),
        "points_issued": sum(x["delta"] for x in ents if s <= x["at"] < e and x["delta"] > 0),
        "points_redeemed": -sum(x["delta"] for x in ents if s <= x["at"] < e and x["kind"] == "redeem"),
        "points_expired": -sum(x["delta"] for x in ents if s <= x["at"] < e and x["kind"] == "expire"),
        "points_liability_fen": held,  # CRM_POINT_VALUE_FEN's default: 1 fen a point
        "followups_done": sum(1 for f in fus if f["status"] == "done" and s <= f["done_at"] < e),
        "followups_overdue": sum(1 for f in fus if f["status"] == "open" and s <= f["due_at"] < e
                                 and f["due_at"] < at_now),
    }


def values(figures: dict[str, Figure]) -> dict[str, int | None]:
    return {k: (None if f.no_data else f.value) for k, f in figures.items()}


def previous(figures: dict[str, Figure]) -> dict[str, int | None]:
    return {k: f.previous for k, f in figures.items()}


@pytest.mark.parametrize("who", ["boss", "ma", "sa1", "sb"])
async def test_each_key_figure_matches_a_direct_computation_for_each_scope(shop, who):
    scope = scope_of(shop, who)
    figures = await key_figures(NOV, make_filter(scope))
    assert list(figures) == list(KEYS)
    assert values(figures) == expected(shop, NOV, scope)
    assert previous(figures) == expected(shop, NOV.previous(), scope)
    assert figures["active_customers"].value > 0 or who != "boss"


async def test_the_data_is_rich_enough_to_tell_the_figures_apart(shop):
    """Guards the fixture: each figure is non-zero for the admin in November, and scopes differ."""
    figures = values(await key_figures(NOV, make_filter(scope_of(shop, "boss"))))
    assert all(figures[k] for k in KEYS if k != "churn_rate"), figures
    team = values(await key_figures(NOV, make_filter(scope_of(shop, "ma"))))
    assert team["sales_fen"] < figures["sales_fen"]


@pytest.mark.parametrize("channel", ["tmall", "jd"])
async def test_a_channel_narrows_orders_by_their_channel_and_customers_by_their_first(shop, channel):
    scope = scope_of(shop, "boss")
    figures = await key_figures(NOV, make_filter(scope, channel))
    assert values(figures) == expected(shop, NOV, scope, channel)
    assert previous(figures) == expected(shop, NOV.previous(), scope, channel)


async def test_an_admin_narrowed_to_a_team_sees_what_its_manager_sees(shop):
    manager = await key_figures(NOV, make_filter(scope_of(shop, "ma")))
    team_id = shop["team"][shop["users"]["ma"]]
    admin = await key_figures(NOV, make_filter(scope_of(shop, "boss"), team=str(team_id)))
    assert admin == manager


async def test_a_previous_period_of_the_same_length_and_changes(shop):
    scope = scope_of(shop, "boss")
    week = Period(dt.date(2026, 11, 9), dt.date(2026, 11, 15))
    assert week.previous() == Period(dt.date(2026, 11, 2), dt.date(2026, 11, 8))
    figures = await key_figures(week, make_filter(scope))
    assert values(figures) == expected(shop, week, scope)
    assert previous(figures) == expected(shop, week.previous(), scope)
    f = figures["sales_fen"]
    assert f.change == f.value - f.previous
    assert f.direction == ("up" if f.change > 0 else "down" if f.change < 0 else "flat")


async def test_the_point_value_setting_prices_the_liability(shop, settings_env):
    scope = scope_of(shop, "boss")
    settings_env(CRM_POINT_VALUE_FEN="5")
    figures = await key_figures(NOV, make_filter(scope))
    assert figures["points_liability_fen"].value == 5 * expected(shop, NOV, scope)["points_liability_fen"]
    assert figures["points_liability_fen"].unit == "fen"


async def test_an_empty_shop_gives_zeros_and_no_data_for_rates_never_an_error():
    figures = await key_figures(NOV, make_filter(Scope.everything()))
    assert {k: f.value for k, f in figures.items()} == {k: 0 for k in KEYS}
    for key in ("repurchase_rate", "churn_rate", "average_order_fen"):
        assert figures[key].no_data and figures[key].previous is None and figures[key].change is None
    assert not figures["orders"].no_data and figures["orders"].change == 0
    assert [r["count"] for r in await lifecycle_counts(make_filter(Scope.everything()))] == [0] * 5
    assert all(r["count"] == 0 for r in await pipeline_by_stage(make_filter(Scope.everything())))
    assert await followups_by_person(NOV, make_filter(Scope.everything())) == []


async def test_a_ten_year_range_is_answered(shop):
    ten = Period.parse("2017-01-01", "2026-12-31")
    figures = await key_figures(ten, make_filter(scope_of(shop, "boss")))
    assert figures["orders"].value == sum(1 for o in shop["orders"] if o["status"] == "paid")


def test_every_figure_has_a_definition_and_a_unit():
    assert set(DEFINITIONS) == set(KEYS) and len(KEYS) == 13
    assert all(text.endswith(".") for text in DEFINITIONS.values())


@pytest.mark.parametrize("who", ["boss", "ma", "sa1"])
async def test_breakdowns_count_the_scope_s_customers(shop, who):
    scope = scope_of(shop, who)
    filt = make_filter(scope)
    mine = [c for c in shop["customers"] if covered(scope, c)]
    stages = await lifecycle_counts(filt)
    assert [r["key"] for r in stages] == list(LIFECYCLE_STAGES)
    assert {r["key"]: r["count"] for r in stages} == {
        s: sum(1 for c in mine if c["lifecycle_stage"] == s) for s in LIFECYCLE_STAGES}
    ids = {c["id"] for c in mine}
    tiers = await members_by_tier(filt)
    member_tiers = {r["customer"]: r["tier"] for r in await Member.select(Member.customer, Member.tier)}
    assert {r["key"]: r["count"] for r in tiers} == {
        t["key"]: sum(1 for cid, tier in member_tiers.items() if cid in ids and tier == t["key"])
        for t in tiers}
    assert [r["label"] for r in tiers][:1] == ["普通"]
    board = await pipeline_by_stage(filt)
    for row in board:
        in_stage = [d for d in shop["deals"] if d["stage"] == row["key"] and d["customer"] in ids]
        assert (row["count"], row["amount_fen"]) == (len(in_stage), sum(d["amount_fen"] for d in in_stage))
    assert [r["label"] for r in board][:5] == ["lead", "contacted", "quoted", "won", "lost"]


@pytest.mark.parametrize("who", ["boss", "ma", "sa1"])
async def test_followups_by_person_add_up_to_the_key_figures(shop, who):
    scope = scope_of(shop, who)
    filt = make_filter(scope)
    rows = await followups_by_person(NOV, filt)
    figures = await key_figures(NOV, filt)
    assert sum(r["done"] for r in rows) == figures["followups_done"].value
    assert sum(r["overdue"] for r in rows) == figures["followups_overdue"].value
    assert {r["user_id"] for r in rows} <= people(shop, scope)
    s, e = NOV.bounds()
    for r in rows:
        due = [f for f in shop["followups"] if f["assignee"] == r["user_id"] and s <= f["due_at"] < e
               and f["status"] != "cancelled"]
        assert r["due"] == len(due)
        assert r["done_on_time"] == sum(1 for f in due if f["status"] == "done" and f["done_at"] <= f["due_at"])
        assert r["done_late"] == sum(1 for f in due if f["status"] == "done" and f["done_at"] > f["due_at"])
        assert r["interactions"] == sum(1 for t in shop["talks"] if t["staff"] == r["user_id"]
                                        and s <= t["happened_at"] < e)
        won = [d for d in shop["deals"] if d["owner"] == r["user_id"] and d["status"] == "won"
               and s <= d["closed_at"] < e]
        assert (r["won_count"], r["won_fen"]) == (len(won), sum(d["amount_fen"] for d in won))
    if who == "sa1":
        assert [r["user_id"] for r in rows] == [shop["users"]["sa1"]]
