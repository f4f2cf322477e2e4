"""The members catalogue (tiers, rewards, coupon types) and the points settings: the rules in
db/members/catalogue/, the audit trail, and who may open and change the settings pages."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from db.audit.tables import AuditEntry
from db.clock import now
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.errors import NotFound, ValidationFailed
from db.members import catalogue
from db.members.tables import Coupon, CouponType, Member, Reward, Tier

ACTOR = Actor(None, "boss", "127.0.0.1")


@pytest.fixture
def signed_in(signed_in_english):
    return signed_in_english


def hx(client, **extra):
    return {"HX-Request": "true", "X-CSRFToken": client.csrf, **extra}


async def audits(action: str) -> list[dict]:
    return await AuditEntry.select().where(AuditEntry.action == action)


def detail(entry: dict) -> dict:
    value = entry["detail"]
    return json.loads(value) if isinstance(value, str) else value


async def tier_id(name: str) -> int:
    return (await Tier.select(Tier.id).where(Tier.name == name).first())["id"]


def tier_form(**changes) -> dict:
    return {"name": "黑金", "position": "4", "min_spend": "50000", "min_points": "", "multiplier": "2.5",
            "benefits": "专属顾问", "color": "red", **changes}


async def add_member(tier: int, downgrade_to: int | None = None) -> int:
    cid = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), Actor(None, "t")))[0]
    stamp = now()
    return (await Member.insert(Member(customer=cid, member_no="M00000001", joined_at=stamp, source="staff",
                                       tier=tier, tier_since=stamp, downgrade_to=downgrade_to,
                                       updated_at=stamp)).returning(Member.id))[0]["id"]


# ---------------------------------------------------------------- tiers


async def test_the_four_default_tiers_are_listed_by_position_with_the_base_tier_first():
    tiers = await catalogue.list_tiers()
    assert [t["name"] for t in tiers] == ["普通", "银卡", "金卡", "钻石"]
    assert tiers[0]["is_base"] and not tiers[0]["deletable"]
    assert all(t["deletable"] for t in tiers[1:])
    assert catalogue.tier_values(tiers[2]) == {
        "name": "金卡", "position": "2", "min_spend": "5000", "min_points": "", "multiplier": "1.5",
        "benefits": tiers[2]["benefits"], "color": "amber"}


async def test_create_a_tier_stores_fen_and_percent_and_is_audited():
    created = await catalogue.create_tier(tier_form(min_points="20000"), ACTOR)
    row = await catalogue.get_tier(created)
    assert (row["min_spend_fen"], row["min_points"], row["multiplier_pct"], row["color"]) == (5_000_000, 20000, 250, "red")
    [entry] = await audits("tier.create")
    assert entry["target_id"] == created and entry["actor"] == "boss"


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"),
    ({"name": "x" * 21}, "name"),
    ({"name": "金卡"}, "name"),
    ({"position": "2"}, "position"),
    ({"position": "0"}, "position"),
    ({"position": "abc"}, "position"),
    ({"min_spend": "", "min_points": ""}, "min_spend"),
    ({"min_spend": "-5"}, "min_spend"),
    ({"min_spend": "1.005"}, "min_spend"),
    ({"min_spend": "10000"}, "min_spend"),  # less than 钻石's ¥20,000 at a higher position
    ({"min_points": "0"}, "min_points"),
    ({"multiplier": "0.5"}, "multiplier"),
    ({"multiplier": "abc"}, "multiplier"),
    ({"multiplier": "11"}, "multiplier"),
    ({"color": "pink"}, "color"),
    ({"benefits": "x" * 501}, "benefits"),
])
async def test_bad_tier_input_names_the_field_and_saves_nothing(changes, field):
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.create_tier(tier_form(**changes), ACTOR)
    assert field in caught.value.errors
    assert await Tier.count() == 4 and not await audits("tier.create")


async def test_thresholds_must_increase_with_position_with_a_clear_message():
    silver = await tier_id("银卡")
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.update_tier(silver, tier_form(name="银卡", position="1", min_spend="6000"), ACTOR)
    assert caught.value.errors == {"min_spend": "must be less than the tier above"}
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.create_tier(tier_form(position="5", min_spend="100"), ACTOR)
    assert caught.value.errors == {"min_spend": "must be more than the tier below"}
    # a points threshold is compared only with the tiers that set one
    await catalogue.create_tier(tier_form(position="5", min_spend="", min_points="1000"), ACTOR)


async def test_the_base_tier_keeps_position_zero_and_has_no_thresholds():
    base = await tier_id("普通")
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.update_tier(base, tier_form(name="普通", min_spend="100"), ACTOR)
    assert "min_spend" in caught.value.errors
    await catalogue.update_tier(base, tier_form(name="会员", position="7", min_spend="", multiplier="1"), ACTOR)
    row = await catalogue.get_tier(base)
    assert (row["name"], row["position"], row["min_spend_fen"]) == ("会员", 0, None)
    [entry] = await audits("tier.update")
    assert set(detail(entry)["fields"]) >= {"name", "color"}


async def test_an_unchanged_save_writes_no_audit_entry():
    gold = await tier_id("金卡")
    await catalogue.update_tier(gold, catalogue.tier_values(await catalogue.get_tier(gold)), ACTOR)
    assert not await audits("tier.update")


async def test_delete_a_tier_but_not_the_base_one_nor_one_that_members_hold():
    with pytest.raises(ValidationFailed):
        await catalogue.delete_tier(await tier_id("普通"), ACTOR)
    gold, diamond = await tier_id("金卡"), await tier_id("钻石")
    await add_member(gold, downgrade_to=None)
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.delete_tier(gold, ACTOR)
    assert caught.value.errors == {"tier": "members hold this tier; it cannot be deleted"}
    tiers = {t["name"]: t for t in await catalogue.list_tiers()}
    assert tiers["金卡"]["members"] == 1 and not tiers["金卡"]["deletable"]
    await catalogue.delete_tier(diamond, ACTOR)
    assert await Tier.count() == 3 and len(await audits("tier.delete")) == 1
    with pytest.raises(NotFound):
        await catalogue.delete_tier(diamond, ACTOR)


async def test_a_tier_members_will_be_moved_down_to_cannot_be_deleted():
    await add_member(await tier_id("金卡"), downgrade_to=await tier_id("银卡"))
    with pytest.raises(ValidationFailed):
        await catalogue.delete_tier(await tier_id("银卡"), ACTOR)


# ---------------------------------------------------------------- coupon types


def coupon_form(**changes) -> dict:
    return {"name": "满200减20", "kind": "amount", "amount_off": "20", "percent_off": "", "min_spend": "200",
            "validity": "days", "valid_days": "30", "valid_from": "", "valid_until": "", "active": "1", **changes}


async def test_coupon_types_amount_off_or_percent_off_with_validity_days_or_a_window():
    amount = await catalogue.create_coupon_type(coupon_form(), ACTOR)
    percent = await catalogue.create_coupon_type(coupon_form(
        name="九折", kind="percent", amount_off="", percent_off="10", min_spend="", validity="window",
        valid_from="2026-12-01", valid_until="2026-12-31"), ACTOR)
    a, p = await catalogue.get_coupon_type(amount), await catalogue.get_coupon_type(percent)
    assert (a["amount_off_fen"], a["min_spend_fen"], a["valid_days"], a["active"]) == (2000, 20000, 30, True)
    assert (p["percent_off"], p["amount_off_fen"], p["valid_days"]) == (10, 0, None)
    assert catalogue.coupon_type_values(p)["valid_from"] == "2026-12-01"
    assert catalogue.coupon_type_values(p)["valid_until"] == "2026-12-31"
    assert p["valid_until"] > p["valid_from"] + dt.timedelta(days=30)  # to the end of the last day
    assert len(await audits("coupon_type.create")) == 2


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"),
    ({"kind": "free"}, "kind"),
    ({"amount_off": ""}, "amount_off"),
    ({"amount_off": "0"}, "amount_off"),
    ({"amount_off": "300"}, "amount_off"),  # more than the minimum spend
    ({"kind": "percent", "percent_off": "100"}, "percent_off"),
    ({"kind": "percent", "percent_off": "0"}, "percent_off"),
    ({"kind": "percent", "percent_off": ""}, "percent_off"),
    ({"min_spend": "abc"}, "min_spend"),
    ({"validity": ""}, "validity"),
    ({"valid_days": "0"}, "valid_days"),
    ({"valid_days": ""}, "valid_days"),
    ({"validity": "window", "valid_until": ""}, "valid_until"),
    ({"validity": "window", "valid_from": "2026-12-31", "valid_until": "2026-12-01"}, "valid_until"),
    ({"validity": "window", "valid_from": "31/12/2026", "valid_until": "2027-01-01"}, "valid_from"),
])
async def test_bad_coupon_type_input_names_the_field_and_saves_nothing(changes, field):
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.create_coupon_type(coupon_form(**changes), ACTOR)
    assert field in caught.value.errors
    assert not await CouponType.count()


async def test_a_coupon_type_with_issued_coupons_is_switched_off_not_deleted():
    type_id = await catalogue.create_coupon_type(coupon_form(), ACTOR)
    member = await add_member(await tier_id("普通"))
    await Coupon.insert(Coupon(code="ABCD1234", coupon_type=type_id, member=member, source="staff",
                               valid_from=now(), issued_at=now()))
    with pytest.raises(ValidationFailed):
        await catalogue.delete_coupon_type(type_id, ACTOR)
    await catalogue.update_coupon_type(type_id, coupon_form(active=""), ACTOR)
    assert not (await catalogue.get_coupon_type(type_id))["active"]
    [entry] = await audits("coupon_type.update")
    assert detail(entry) == {"fields": ["active"]}
    assert [t["id"] for t in await catalogue.list_coupon_types(active_only=True)] == []
    spare = await catalogue.create_coupon_type(coupon_form(name="备用"), ACTOR)
    await catalogue.delete_coupon_type(spare, ACTOR)
    assert len(await audits("coupon_type.delete")) == 1


# ---------------------------------------------------------------- rewards


def reward_form(**changes) -> dict:
    return {"name": "保温杯", "description": "限量", "points_cost": "500", "stock": "", "valid_from": "",
            "valid_until": "", "coupon_type_id": "", "active": "1", **changes}


async def test_rewards_stock_empty_means_unlimited_and_may_issue_a_coupon_type():
    type_id = await catalogue.create_coupon_type(coupon_form(), ACTOR)
    cup = await catalogue.create_reward(reward_form(), ACTOR)
    coupon = await catalogue.create_reward(reward_form(name="20元券", points_cost="1000", stock="50",
                                                       coupon_type_id=str(type_id), valid_from="2026-01-01",
                                                       valid_until="2026-12-31"), ACTOR)
    rows = {r["name"]: r for r in await catalogue.list_rewards()}
    assert rows["保温杯"]["stock"] is None and rows["保温杯"]["coupon_type"] is None
    assert rows["20元券"]["stock"] == 50 and rows["20元券"]["coupon_type_name"] == "满200减20"
    assert catalogue.reward_values(await catalogue.get_reward(coupon))["valid_until"] == "2026-12-31"
    assert len(await audits("reward.create")) == 2 and cup


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"),
    ({"points_cost": "0"}, "points_cost"),
    ({"points_cost": "-10"}, "points_cost"),
    ({"points_cost": "1.5"}, "points_cost"),
    ({"points_cost": ""}, "points_cost"),
    ({"stock": "-1"}, "stock"),
    ({"stock": "many"}, "stock"),
    ({"valid_from": "2026-12-31", "valid_until": "2026-01-01"}, "valid_until"),
    ({"coupon_type_id": "9999"}, "coupon_type_id"),
    ({"coupon_type_id": "abc"}, "coupon_type_id"),
    ({"description": "x" * 501}, "description"),
])
async def test_bad_reward_input_names_the_field_and_saves_nothing(changes, field):
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.create_reward(reward_form(**changes), ACTOR)
    assert field in caught.value.errors
    assert not await Reward.count()


async def test_a_reward_may_not_point_to_a_switched_off_coupon_type():
    type_id = await catalogue.create_coupon_type(coupon_form(active=""), ACTOR)
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.create_reward(reward_form(coupon_type_id=str(type_id)), ACTOR)
    assert caught.value.errors == {"coupon_type_id": "choose an active coupon type"}


async def test_update_and_delete_a_reward_are_audited():
    cup = await catalogue.create_reward(reward_form(), ACTOR)
    await catalogue.update_reward(cup, reward_form(points_cost="800", stock="10"), ACTOR)
    [entry] = await audits("reward.update")
    assert detail(entry) == {"fields": ["points_cost", "stock"]}
    await catalogue.delete_reward(cup, ACTOR)
    assert not await Reward.count() and len(await audits("reward.delete")) == 1


# ---------------------------------------------------------------- the pages: who may open and change them

PAGES = ["/settings/tiers", "/settings/tiers/new", "/settings/rewards", "/settings/rewards/new",
         "/settings/coupons", "/settings/coupons/new", "/settings/points"]


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_managers_and_admins_open_every_settings_page(signed_in, role):
    client = await signed_in("boss", role)
    for path in PAGES:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "<html" in response.text
    more = await client.get("/more")
    for path in ("/settings/tiers", "/settings/rewards", "/settings/coupons", "/settings/points"):
        assert f'href="{path}"' in more.text


async def test_staff_can_neither_open_nor_change_the_settings(signed_in):
    client = await signed_in("clerk", "staff")
    for path in PAGES:
        assert (await client.get(path)).status_code == 403, path
    response = await client.post("/settings/tiers/new", data={**tier_form(), "_csrf_token": client.csrf})
    assert response.status_code == 403 and await Tier.count() == 4
    more = await client.get("/more")
    assert 'href="/settings/tiers"' not in more.text


async def test_add_edit_and_delete_a_tier_through_the_pages(signed_in):
    client = await signed_in("boss", "manager")
    response = await client.post("/settings/tiers/new", data={**tier_form(), "_csrf_token": client.csrf},
                                 follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/settings/tiers?msg=tier_created"
    page = await client.get("/settings/tiers?msg=tier_created")
    assert "黑金" in page.text and "Tier added." in page.text and "2.5×" in page.text
    new_id = await tier_id("黑金")
    edit = await client.get(f"/settings/tiers/{new_id}")
    assert 'value="50000"' in edit.text
    response = await client.post(f"/settings/tiers/{new_id}", data={**tier_form(min_spend="100"),
                                                                      "_csrf_token": client.csrf})
    assert response.status_code == 422
    assert "must be more than the tier below" in response.text and 'aria-invalid="true"' in response.text
    assert (await catalogue.get_tier(new_id))["min_spend_fen"] == 5_000_000
    response = await client.post(f"/settings/tiers/{new_id}/delete", data={"_csrf_token": client.csrf},
                                 follow_redirects=False)
    assert response.status_code == 303 and await Tier.count() == 4


async def test_deleting_a_held_tier_through_the_page_says_why(signed_in):
    client = await signed_in("boss", "admin")
    gold = await tier_id("金卡")
    await add_member(gold)
    response = await client.post(f"/settings/tiers/{gold}/delete", data={"_csrf_token": client.csrf})
    assert response.status_code == 422 and "members hold this tier" in response.text
    assert await Tier.count() == 4


async def test_coupon_and_reward_pages_create_and_show_errors_by_the_field(signed_in):
    client = await signed_in("boss", "manager")
    bad = await client.post("/settings/coupons/new", data={**coupon_form(kind="percent", percent_off="120"),
                                                          "_csrf_token": client.csrf})
    assert bad.status_code == 422 and 'id="f-percent_off-error"' in bad.text
    good = await client.post("/settings/coupons/new", data={**coupon_form(), "_csrf_token": client.csrf},
                             follow_redirects=False)
    assert good.status_code == 303
    listing = await client.get("/settings/coupons")
    assert "满200减20" in listing.text and "¥20.00" in listing.text
    type_id = (await CouponType.select(CouponType.id).first())["id"]
    form = await client.get("/settings/rewards/new")
    assert f'value="{type_id}"' in form.text  # the active coupon type is offered
    bad = await client.post("/settings/rewards/new", data={**reward_form(points_cost="0"), "_csrf_token": client.csrf})
    assert bad.status_code == 422 and 'id="f-points_cost-error"' in bad.text
    good = await client.post("/settings/rewards/new", data={
        **reward_form(coupon_type_id=str(type_id)), "_csrf_token": client.csrf}, follow_redirects=False)
    assert good.status_code == 303
    listing = await client.get("/settings/rewards")
    assert "保温杯" in listing.text and "500" in listing.text
    reward_id = (await Reward.select(Reward.id).first())["id"]
    edit = await client.get(f"/settings/rewards/{reward_id}")
    assert re.search(rf'<option value="{type_id}" selected', edit.text)


async def test_active_switch_toggles_in_place_as_a_fragment_and_as_a_page(signed_in):
    client = await signed_in("boss", "manager")
    type_id = await catalogue.create_coupon_type(coupon_form(), ACTOR)
    fragment = await client.post(f"/settings/coupons/{type_id}/active", headers=hx(client))
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'id="coupon-type-{type_id}"' in fragment.text
    assert not (await catalogue.get_coupon_type(type_id))["active"]
    page = await client.post(f"/settings/coupons/{type_id}/active", data={"_csrf_token": client.csrf},
                             follow_redirects=False)
    assert page.status_code == 303
    assert (await catalogue.get_coupon_type(type_id))["active"]
    cup = await catalogue.create_reward(reward_form(), ACTOR)
    fragment = await client.post(f"/settings/rewards/{cup}/active", headers=hx(client))
    assert fragment.status_code == 200 and "<html" not in fragment.text and f'id="reward-{cup}"' in fragment.text
    assert not (await catalogue.get_reward(cup))["active"]


def points_form(**changes) -> dict:
    return {"points_per_yuan": "2", "signup_bonus": "50", "birthday_bonus": "300", "expiry": "months",
            "expiry_months": "12", "manager_above": "500", "auto_enroll": "1", "evaluate_on": "07-01",
            "grace_days": "15", **changes}


async def test_points_rules_are_saved_through_the_page_and_audited(signed_in):
    from db.members import config

    client = await signed_in("boss", "manager")
    page = await client.get("/settings/points")
    assert 'value="1000"' in page.text and 'value="year_end_after" checked' in page.text
    response = await client.post("/settings/points", data={**points_form(), "_csrf_token": client.csrf},
                                 follow_redirects=False)
    assert response.status_code == 303
    config.forget()
    cfg = await config.load()
    assert (cfg.points_per_yuan, cfg.expiry, cfg.expiry_months, cfg.manager_above, cfg.auto_enroll,
            cfg.evaluate_on, cfg.grace_days) == (2, "months", 12, 500, True, "07-01", 15)
    assert len(await audits("points.settings")) == 1
    page = await client.get("/settings/points?msg=points_saved")
    assert "Points rules saved." in page.text and 'name="auto_enroll" value="1" checked' in page.text


async def test_bad_points_rules_show_messages_by_the_fields_and_save_nothing(signed_in):
    from db.members import config

    client = await signed_in("boss", "admin")
    response = await client.post("/settings/points", data={
        **points_form(points_per_yuan="-1", evaluate_on="13-40", expiry="soon"), "_csrf_token": client.csrf})
    assert response.status_code == 422
    for name in ("points_per_yuan", "evaluate_on", "expiry"):
        assert f'id="f-{name}-error"' in response.text or "choose when points expire" in response.text
    config.forget()
    assert (await config.load()).points_per_yuan == 1 and not await audits("points.settings")


async def test_saving_a_reward_never_puts_redeemed_stock_back():
    from db.members import ledger, membership

    rid = await catalogue.create_reward({"name": "保温杯", "points_cost": "10", "stock": "10", "active": "1"}, ACTOR)
    form = catalogue.reward_values(await catalogue.get_reward(rid))  # the manager opens the form
    cid = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), ACTOR))[0]
    member = await membership.join(cid, "staff", ACTOR)
    for key in ("a", "b", "c"):
        await ledger.redeem(member["id"], rid, key)
    await catalogue.update_reward(rid, {**form, "name": "316 保温杯"}, ACTOR)  # a typo fix
    saved = await catalogue.get_reward(rid)
    assert saved["name"] == "316 保温杯" and saved["stock"] == 7
    with pytest.raises(ValidationFailed) as exc:  # a stock change made on a stale form
        await catalogue.update_reward(rid, {**form, "stock": "20"}, ACTOR)
    assert "stock" in exc.value.errors and (await catalogue.get_reward(rid))["stock"] == 7
    fresh = catalogue.reward_values(await catalogue.get_reward(rid))
    await catalogue.update_reward(rid, {**fresh, "stock": "20"}, ACTOR)
    assert (await catalogue.get_reward(rid))["stock"] == 20


def test_odd_digits_and_huge_numbers_are_field_errors():
    from web.members.card_section import parse_delta as _parse_delta

    assert _parse_delta("²") is None and _parse_delta("-12") == -12
    with pytest.raises(ValidationFailed):
        catalogue.parse_reward({"name": "x", "points_cost": "10", "coupon_type_id": "²"})
    with pytest.raises(ValidationFailed):
        catalogue.parse_reward({"name": "x", "points_cost": "10", "coupon_type_id": "9" * 30})
    with pytest.raises(ValidationFailed) as exc:
        catalogue.parse_tier({"name": "黑金", "position": "4", "min_spend": "50000", "multiplier": "1e999999"})
    assert "multiplier" in exc.value.errors
