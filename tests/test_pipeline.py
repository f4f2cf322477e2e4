"""The sales pipeline's rules (db/pipeline), on whichever engine the suite runs."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from db.audit.tables import AuditEntry
from db.customers import merge, timeline
from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer
from db.engine import raw
from db.errors import Conflict, NotFound, ValidationFailed
from db.pipeline import board, opportunities, stages
from db.pipeline.tables import Opportunity, OpportunityStageChange, PipelineStage
from db.staff.tables import Team

ALL = Scope.everything()


async def customer(name="王芳", mobile="13812345678", owner=None, team=None) -> int:
    cid = (await upsert_customer(parse_customer({"name": name, "mobile": mobile}), Actor(None, "t")))[0]
    await Customer.update({Customer.owner: owner, Customer.team: team}).where(Customer.id == cid)
    return cid


async def stage_id(code: str) -> int:
    return (await PipelineStage.select(PipelineStage.id).where(PipelineStage.code == code).first())["id"]


@pytest.fixture
async def boss(make_user):
    user_id = await make_user("boss", "admin", None)
    return Actor(user_id, "boss")


async def new(actor, cid, title="春季补货", amount="12000.00", **extra) -> int:
    values = {"customer_id": str(cid), "title": title, "amount": amount, **extra}
    return await opportunities.create(ALL, values, actor)


async def test_the_five_built_in_stages_are_seeded_in_order():
    rows = await PipelineStage.select().order_by(PipelineStage.position)
    assert [(r["code"], r["outcome"], r["name"]) for r in rows] == [
        ("lead", "open", ""), ("contacted", "open", ""), ("quoted", "open", ""),
        ("won", "won", ""), ("lost", "lost", ""),
    ]


async def test_create_keeps_money_in_integer_fen_and_starts_in_the_first_open_stage(boss):
    cid = await customer()
    oid = await new(boss, cid, amount="¥1,299.50", expected_close_on="2026-12-31",
                    owner_id=str(boss.id))
    row = await Opportunity.select().where(Opportunity.id == oid).first()
    assert row["amount_fen"] == 129950 and isinstance(row["amount_fen"], int)
    assert row["stage"] == await stage_id("lead") and row["status"] == "open"
    assert row["expected_close_on"] == dt.date(2026, 12, 31) and row["owner"] == boss.id
    changes = await OpportunityStageChange.select().where(OpportunityStageChange.opportunity == oid)
    assert [(c["kind"], c["from_stage"], c["amount_fen"]) for c in changes] == [("created", None, 129950)]
    assert await AuditEntry.count().where(AuditEntry.action == "opportunity.create") == 1


@pytest.mark.parametrize("values, field", [
    ({"title": ""}, "title"),
    ({"title": "x" * 121}, "title"),
    ({"amount": "abc"}, "amount"),
    ({"amount": "-5"}, "amount"),
    ({"amount": "1.005"}, "amount"),
    ({"amount": "2000000000"}, "amount"),
    ({"expected_close_on": "31/12/2026"}, "expected_close_on"),
    ({"owner_id": "9999"}, "owner_id"),
    ({"owner_id": "abc"}, "owner_id"),
    ({"stage_id": "9999"}, "stage_id"),
    ({"customer_id": ""}, "customer_id"),
    ({"customer_id": "9999"}, "customer_id"),
])
async def test_each_bad_field_gets_its_own_message_and_nothing_is_saved(boss, values, field):
    cid = await customer()
    base = {"customer_id": str(cid), "title": "春季补货", "amount": "100"}
    with pytest.raises(ValidationFailed) as failed:
        await opportunities.create(ALL, {**base, **values}, boss)
    assert list(failed.value.errors) == [field]
    assert await Opportunity.count() == 0 and await OpportunityStageChange.count() == 0


async def test_an_inactive_owner_is_not_a_choice(boss, make_user):
    from db.staff.tables import StaffUser
    gone = await make_user("gone", "staff", None)
    await StaffUser.update({StaffUser.is_active: False}).where(StaffUser.id == gone)
    with pytest.raises(ValidationFailed) as failed:
        await new(boss, await customer(), owner_id=str(gone))
    assert failed.value.errors == {"owner_id": "not one of the choices"}


async def test_a_move_records_one_change_and_sets_status_and_closed_at(boss):
    cid = await customer()
    oid = await new(boss, cid)
    won = await stage_id("won")
    assert await opportunities.move(ALL, oid, won, boss) is True
    row = await Opportunity.select().where(Opportunity.id == oid).first()
    assert row["stage"] == won and row["status"] == "won" and row["closed_at"] is not None
    assert await OpportunityStageChange.count().where(OpportunityStageChange.kind == "moved") == 1
    entries, _ = await timeline.timeline_page(ALL, cid)
    moved = [e for e in entries if e["kind"] == "stage_change" and e["change_kind"] == "moved"]
    assert len(moved) == 1
    assert (moved[0]["title"], moved[0]["from_code"], moved[0]["to_code"], moved[0]["amount_fen"],
            moved[0]["staff_name"]) == ("春季补货", "lead", "won", 1200000, "boss")
    # back to an open stage: open again, no closing time
    assert await opportunities.move(ALL, oid, await stage_id("quoted"), boss) is True
    row = await Opportunity.select().where(Opportunity.id == oid).first()
    assert row["status"] == "open" and row["closed_at"] is None
    assert await AuditEntry.count().where(AuditEntry.action == "opportunity.move") == 2


async def test_moving_to_the_same_stage_records_nothing(boss):
    oid = await new(boss, await customer())
    before = (await Opportunity.select().where(Opportunity.id == oid).first())["updated_at"]
    assert await opportunities.move(ALL, oid, await stage_id("lead"), boss) is False
    assert await OpportunityStageChange.count() == 1  # just "created"
    assert (await Opportunity.select().where(Opportunity.id == oid).first())["updated_at"] == before


async def test_a_move_from_a_stale_screen_is_a_conflict(boss):
    oid = await new(boss, await customer())
    lead, contacted, quoted = [await stage_id(c) for c in ("lead", "contacted", "quoted")]
    await opportunities.move(ALL, oid, contacted, boss, seen_stage_id=lead)
    with pytest.raises(Conflict):  # the other phone still shows it in Lead
        await opportunities.move(ALL, oid, quoted, boss, seen_stage_id=lead)
    assert (await Opportunity.select().where(Opportunity.id == oid).first())["stage"] == contacted


async def test_staff_cannot_see_or_move_another_persons_customers_opportunity(boss, make_user):
    me = await make_user("me", "staff", "东区")
    other = await make_user("other", "staff", "东区")
    team = (await Team.select(Team.id).where(Team.name == "东区").first())["id"]
    theirs = await new(boss, await customer(owner=other, team=team))
    mine = await new(boss, await customer("李雷", "13900001111", owner=me, team=team))
    scope = Scope.for_staff("staff", me, team)
    actor = Actor(me, "me")
    with pytest.raises(NotFound):
        await opportunities.get(scope, theirs)
    with pytest.raises(NotFound):
        await opportunities.move(scope, theirs, await stage_id("won"), actor)
    with pytest.raises(NotFound):
        await opportunities.update(scope, theirs, {"title": "x"}, actor)
    with pytest.raises(NotFound):
        await opportunities.delete(scope, theirs, actor)
    found = await board.board(scope)
    assert [i["id"] for s in found["stages"] for i in s["items"]] == [mine]
    assert (await opportunities.get(scope, mine))["title"] == "春季补货"
    with pytest.raises(ValidationFailed):  # and cannot create one for that customer either
        await opportunities.create(scope, {"customer_id": str((await Opportunity.select(
            Opportunity.customer).where(Opportunity.id == theirs).first())["customer"]),
            "title": "x"}, actor)


async def test_board_counts_and_sums_per_stage_and_totals(boss):
    cid = await customer()
    a = await new(boss, cid, amount="100.00")
    await new(boss, cid, amount="250.50")
    c = await new(boss, cid, amount="1000")
    await opportunities.move(ALL, c, await stage_id("won"), boss)
    await opportunities.move(ALL, a, await stage_id("lost"), boss)
    found = await board.board(ALL)
    by_code = {s["code"]: s for s in found["stages"]}
    assert (by_code["lead"]["count"], by_code["lead"]["amount_fen"]) == (1, 25050)
    assert (by_code["won"]["count"], by_code["won"]["amount_fen"]) == (1, 100000)
    assert by_code["lost"]["count"] == 1 and by_code["quoted"]["count"] == 0
    assert found["totals"] == {"open_fen": 25050, "won_month_fen": 100000, "won_month_count": 1}
    assert (await board.board(ALL, owner_id=boss.id))["totals"]["open_fen"] == 0  # owner unset


async def test_a_column_is_bounded_and_pages_on_with_a_cursor(boss):
    cid = await customer()
    ids = [await new(boss, cid, title=f"单{i}") for i in range(7)]
    found = await board.board(ALL, per_stage=3)
    lead = found["stages"][0]
    assert lead["count"] == 7 and [i["id"] for i in lead["items"]] == ids[::-1][:3] and lead["more"]
    rest, more = await board.column(ALL, lead, after=lead["more"], limit=3)
    assert [i["id"] for i in rest] == ids[::-1][3:6] and more
    last, more = await board.column(ALL, lead, after=more, limit=3)
    assert [i["id"] for i in last] == ids[:1] and more is None


async def test_for_customer_lists_open_ones_and_checks_the_scope(boss, make_user):
    cid = await customer()
    a = await new(boss, cid, amount="10")
    b = await new(boss, cid, amount="20")
    await opportunities.move(ALL, b, await stage_id("won"), boss)
    section = await board.card_section(ALL, cid)
    assert [o["id"] for o in section["opportunities"]] == [a]
    assert section["opportunities"][0]["stage_code"] == "lead" and section["open_amount_fen"] == 1000
    me = await make_user("me", "staff", None)
    with pytest.raises(NotFound):
        await board.for_customer(Scope.for_staff("staff", me, None), cid)


async def test_update_changes_fields_and_audits_their_names(boss):
    oid = await new(boss, await customer())
    await opportunities.update(ALL, oid, {"title": "夏季补货", "amount": "5", "expected_close_on": ""}, boss)
    row = await Opportunity.select().where(Opportunity.id == oid).first()
    assert (row["title"], row["amount_fen"]) == ("夏季补货", 500)
    entry = await AuditEntry.select().where(AuditEntry.action == "opportunity.update").first()
    detail = entry["detail"] if isinstance(entry["detail"], dict) else json.loads(entry["detail"])
    assert sorted(detail["fields"]) == ["amount_fen", "title"]


async def test_merge_moves_opportunities_and_their_history(boss):
    a = await customer()
    b = await customer("王芳", "13812345679")
    oid = await new(boss, b)
    await opportunities.move(ALL, oid, await stage_id("quoted"), boss)
    await merge.merge_customers(ALL, a, b, boss)
    assert (await Opportunity.select().where(Opportunity.id == oid).first())["customer"] == a
    changes = await OpportunityStageChange.select(OpportunityStageChange.customer)
    assert {c["customer"] for c in changes} == {a}


async def test_delete_removes_it_and_its_history(boss):
    oid = await new(boss, await customer())
    await opportunities.delete(ALL, oid, boss)
    assert await Opportunity.count() == 0 and await OpportunityStageChange.count() == 0


# ---------------------------------------------------------------- stage configuration


async def test_add_rename_reorder_and_delete_stages(boss):
    new_id = await stages.add_stage("  样品寄出 ", boss)
    codes = [(s["code"] or s["name"]) for s in await stages.list_stages()]
    assert codes == ["lead", "contacted", "quoted", "样品寄出", "won", "lost"]
    await stages.rename_stage(new_id, "试用", boss)
    await stages.move_stage(new_id, -1, boss)
    assert [(s["code"] or s["name"]) for s in await stages.list_stages()][2:4] == ["试用", "quoted"]
    await stages.rename_stage(await stage_id("lead"), "", boss)  # a built-in may go back to its own name
    with pytest.raises(ValidationFailed):
        await stages.rename_stage(new_id, " ", boss)  # a stage of our own needs a name
    with pytest.raises(ValidationFailed):
        await stages.rename_stage(new_id, "x" * 41, boss)
    await stages.delete_stage(new_id, boss)
    assert len(await stages.list_stages()) == 5
    with pytest.raises(ValidationFailed):
        await stages.reorder_stages([1, 2, 3], boss)


async def test_a_stage_with_opportunities_and_the_last_open_won_or_lost_stage_stay(boss):
    oid = await new(boss, await customer())
    with pytest.raises(ValidationFailed) as failed:
        await stages.delete_stage(await stage_id("lead"), boss)
    assert "stage" in failed.value.errors
    await opportunities.delete(ALL, oid, boss)
    for code in ("won", "lost"):
        with pytest.raises(ValidationFailed):
            await stages.delete_stage(await stage_id(code), boss)
    await stages.delete_stage(await stage_id("lead"), boss)
    await stages.delete_stage(await stage_id("contacted"), boss)
    with pytest.raises(ValidationFailed) as failed:
        await stages.delete_stage(await stage_id("quoted"), boss)
    assert failed.value.errors == {"stage": "the pipeline needs at least one open stage"}


async def test_history_survives_a_deleted_stage(boss):
    extra = await stages.add_stage("样品", boss)
    oid = await new(boss, await customer(), stage_id=str(extra))
    await opportunities.move(ALL, oid, await stage_id("quoted"), boss)
    await stages.delete_stage(extra, boss)
    history = (await opportunities.get(ALL, oid))["history"]
    assert [(h["kind"], h["from_code"], h["to_code"]) for h in history] == [
        ("moved", None, "quoted"), ("created", None, None)]


async def test_the_demo_spreads_a_few_hundred_opportunities_over_every_stage():
    from db.demo import load_demo

    await load_demo(customers=600, seed=3)
    by_stage = {r["code"]: r["n"] for r in await raw(
        "SELECT s.code, COUNT(*) AS n FROM opportunity o JOIN pipeline_stage s ON s.id = o.stage GROUP BY s.code")}
    assert set(by_stage) == {"lead", "contacted", "quoted", "won", "lost"} and sum(by_stage.values()) == 120
    # every opportunity's history starts with "created" and ends in its stage
    bad = await raw(
        "SELECT o.id FROM opportunity o WHERE o.stage <> (SELECT sc.to_stage FROM opportunity_stage_change sc "
        "WHERE sc.opportunity = o.id ORDER BY sc.changed_at DESC, sc.id DESC LIMIT 1)")
    assert bad == []
    assert await OpportunityStageChange.count().where(OpportunityStageChange.kind == "created") == 120


async def test_an_edit_may_keep_an_owner_who_is_no_longer_a_choice(boss, make_user):
    from db.staff.tables import StaffUser
    seller = await make_user("seller", "staff", None)
    oid = await new(boss, await customer(), owner_id=str(seller))
    await StaffUser.update({StaffUser.is_active: False}).where(StaffUser.id == seller)
    await opportunities.update(ALL, oid, {"title": "改名", "owner_id": str(seller)}, boss)
    assert (await Opportunity.select().where(Opportunity.id == oid).first())["owner"] == seller
