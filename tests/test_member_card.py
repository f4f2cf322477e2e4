"""The 360 card's member section (staff side): what it shows for a member and a non-member, the
quick actions (enrol, adjust points, issue and use a coupon) as HTMX fragments and as plain
forms, the manager threshold, the data scope, the points history and scanning a member card."""

from __future__ import annotations

import re

import pytest

from db.audit.tables import AuditEntry
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer, CustomerConsent
from db.members import catalogue, coupons, ledger, membership
from db.members.qr_card import card_payload, read_card_payload
from db.members.tables import Coupon, MemberConsent, PointsEntry
from db.staff.tables import Team

ACTOR = Actor(None, "test")
KEY = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture
def signed_in(signed_in_english):
    return signed_in_english


def hx(client, **extra):
    return {"HX-Request": "true", "X-CSRFToken": client.csrf, **extra}


async def team_id(name: str = "华东门店组") -> int:
    row = await Team.select(Team.id).where(Team.name == name).first()
    if row:
        return row["id"]
    return (await Team.insert(Team(name=name)).returning(Team.id))[0]["id"]


async def add_customer(name="王芳", mobile="13812345678", owner=None, team=None) -> int:
    cid = (await upsert_customer(parse_customer({"name": name, "mobile": mobile}), ACTOR))[0]
    await Customer.update({Customer.owner: owner, Customer.team: team}).where(Customer.id == cid)
    return cid


async def member_of(cid: int, points: int = 0) -> dict:
    member = await membership.join(cid, "staff", ACTOR)
    if points:
        await ledger.post(member["id"], points, kind="earn", reason="test", source_type="rule",
                          key=f"test:{member['id']}:{points}")
    return await membership.get(member["id"])


async def coupon_type(**changes) -> int:
    values = {"name": "满200减20", "kind": "amount", "amount_off": "20", "min_spend": "200", "validity": "days",
              "valid_days": "30", "active": "1", **changes}
    return await catalogue.create_coupon_type(values, ACTOR)


async def balance(member_id: int) -> int:
    return (await membership.get(member_id))["points_balance"]


# ---------------------------------------------------------------- what the card shows


async def test_a_non_member_card_offers_enrolment_with_consent_boxes(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    page = await client.get(f"/customers/{cid}")
    assert page.status_code == 200
    assert 'id="card-member"' in page.text and "Enrol as member" in page.text
    for channel in ("push", "sms", "email"):
        assert f'name="consent_{channel}"' in page.text
    assert "Adjust points" not in page.text


async def test_a_member_card_shows_tier_number_balance_progress_expiry_coupons_and_entries(signed_in):
    from db.members import config

    client = await signed_in("boss", "admin")
    await config.save(config.PointsConfig(expiry="months", expiry_months=1), ACTOR)
    cid = await add_customer()
    member = await member_of(cid, points=400)
    type_id = await coupon_type()
    issued = await coupons.issue(member["id"], type_id, source="staff", actor_label="test")
    page = (await client.get(f"/customers/{cid}")).text
    section = page[page.index('id="card-member"'):]
    assert member["member_no"] in section and "普通" in section
    assert "500" in section  # 100 sign-up bonus + 400
    assert "Progress to 银卡" in section and "<progress" in section
    assert "¥1,000.00 more spend" in section
    assert "Expiring soon" in section and "500 points" in section
    assert issued["code"] in section and "满200减20" in section
    assert "Sign-up bonus".lower() in section.lower() or "sign-up bonus" in section
    assert f'href="/customers/{cid}/points"' in section
    # the card's slots: the tier badge in the header and the points tile
    header = page[page.index('id="card-header"'):page.index('id="card-figures"')]
    assert "普通" in header
    figures = page[page.index('id="card-figures"'):page.index('id="card-member"')]
    assert "Points" in figures and "500" in figures


async def test_a_shortfall_is_flagged_for_staff(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    await membership.get(member["id"])
    from db.members.tables import Member

    await Member.update({Member.shortfall: 80}).where(Member.id == member["id"])
    page = (await client.get(f"/customers/{cid}")).text
    assert "80 points could not be taken back after a refund" in page


# ---------------------------------------------------------------- enrol


async def test_enrol_as_a_fragment_records_consents_from_staff_and_refreshes_the_card(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    form = await client.get(f"/customers/{cid}/member/join", headers=hx(client))
    assert form.status_code == 200 and "<html" not in form.text and 'id="join-form"' in form.text
    response = await client.post(f"/customers/{cid}/member/join", headers=hx(client),
                                 data={"consent_push": "1", "consent_email": "1"})
    assert response.status_code == 200 and "<html" not in response.text
    member = await membership.member_for_customer(cid)
    assert member and member["source"] == "staff"
    assert 'id="member-sheets"' in response.text and 'id="adjust-sheet"' in response.text
    assert 'id="card-member" aria-labelledby="member-title" hx-swap-oob="true"' in response.text
    assert 'id="card-figures"' in response.text and 'id="card-header"' in response.text
    assert "Enrolled: member no." in response.headers["HX-Trigger"] or "\\u" in response.headers["HX-Trigger"]
    consents = await membership.consents(member["id"])
    assert {k: (v["granted"], v["source"]) for k, v in consents.items()} == {
        "push": (True, "staff"), "sms": (False, "staff"), "email": (True, "staff")}
    # enrolling again changes nothing
    await client.post(f"/customers/{cid}/member/join", headers=hx(client), data={})
    assert await CustomerConsent.count() == 3 and await MemberConsent.count() == 0


async def test_enrol_without_javascript_redirects_to_the_card(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    page = await client.get(f"/customers/{cid}/member/join")
    assert page.status_code == 200 and "<html" in page.text and '<dialog class="sheet" id="join-sheet"' in page.text
    assert 'id="join-sheet" aria-labelledby="join-sheet-title" open' in page.text
    response = await client.post(f"/customers/{cid}/member/join", data={"_csrf_token": client.csrf},
                                 follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(f"/customers/{cid}?saved=member")
    card = await client.get(f"/customers/{cid}?saved=member")
    assert "Enrolled as a member." in card.text and "Adjust points" in card.text


# ---------------------------------------------------------------- adjust points


async def adjust_key(client, cid) -> str:
    form = await client.get(f"/customers/{cid}/points/adjust", headers=hx(client))
    assert form.status_code == 200 and "<html" not in form.text
    return KEY.search(form.text).group(1)


async def test_adjust_points_as_a_fragment_refreshes_the_section_and_toasts(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    key = await adjust_key(client, cid)
    response = await client.post(f"/customers/{cid}/points/adjust", headers=hx(client),
                                 data={"delta": "+250", "reason": "迟到补偿", "key": key})
    assert response.status_code == 200 and "<html" not in response.text
    assert await balance(member["id"]) == 350
    assert 'id="adjust-form"' in response.text and KEY.search(response.text).group(1) != key  # a fresh key
    assert 'id="card-member" aria-labelledby="member-title" hx-swap-oob="true"' in response.text
    assert "迟到补偿" in response.text and "+250" in response.text
    assert 'id="card-figures"' in response.text and "350" in response.text
    assert "crm:toast" in response.headers["HX-Trigger"]
    entry = await PointsEntry.select().where(PointsEntry.kind == "adjust").first()
    assert (entry["delta"], entry["reason"], entry["actor"]) == (250, "迟到补偿", "boss")
    assert await AuditEntry.count().where(AuditEntry.action == "points.adjust") == 1
    # the same form sent twice (a double tap) counts once
    again = await client.post(f"/customers/{cid}/points/adjust", headers=hx(client),
                              data={"delta": "+250", "reason": "迟到补偿", "key": key})
    assert again.status_code == 200 and await balance(member["id"]) == 350


async def test_take_away_with_the_toggle_and_a_plain_number(signed_in):
    """The points field opens a number pad, which has no minus: the toggle says which way."""
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    form = await client.get(f"/customers/{cid}/points/adjust", headers=hx(client))
    assert 'inputmode="numeric"' in form.text and 'name="direction" value="take"' in form.text
    response = await client.post(f"/customers/{cid}/points/adjust", headers=hx(client), data={
        "delta": "80", "direction": "take", "reason": "误加", "key": KEY.search(form.text).group(1)})
    assert response.status_code == 200
    assert await balance(member["id"]) == 20


@pytest.mark.parametrize("data, field, message", [
    ({"delta": "50", "reason": ""}, "reason", "required"),
    ({"delta": "", "reason": "x"}, "delta", "a whole number of points"),
    ({"delta": "1.5", "reason": "x"}, "delta", "a whole number of points"),
    ({"delta": "abc", "reason": "x"}, "delta", "a whole number of points"),
    ({"delta": "0", "reason": "x"}, "delta", "may not be 0"),
    ({"delta": "-500", "reason": "x"}, "delta", "Not enough points: the balance is 100."),
])
async def test_bad_adjustments_show_the_message_by_the_field_and_change_nothing(signed_in, data, field, message):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    key = await adjust_key(client, cid)
    response = await client.post(f"/customers/{cid}/points/adjust", headers=hx(client), data={**data, "key": key})
    assert response.status_code == 200 and "<html" not in response.text
    assert f'id="f-{field}-error"' in response.text and message in response.text
    assert f'value="{key}"' in response.text  # the same operation when it is sent again
    assert await balance(member["id"]) == 100 and await PointsEntry.count() == 1


async def test_bad_adjustment_without_javascript_shows_the_card_with_the_sheet_open(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    response = await client.post(f"/customers/{cid}/points/adjust",
                                 data={"delta": "20", "reason": "", "key": "k1", "_csrf_token": client.csrf})
    assert "<html" in response.text and 'id="adjust-sheet" aria-labelledby="adjust-sheet-title" open' in response.text
    assert 'id="f-reason-error"' in response.text
    response = await client.post(f"/customers/{cid}/points/adjust", follow_redirects=False,
                                 data={"delta": "20", "reason": "补录", "key": "k1", "_csrf_token": client.csrf})
    assert response.status_code == 303 and await balance(member["id"]) == 120
    assert "Points adjusted." in (await client.get(response.headers["location"])).text


async def test_staff_need_a_manager_above_the_threshold_managers_do_not(signed_in):
    boss = await signed_in("boss", "manager")
    clerk = await signed_in("clerk", "staff")
    cid = await add_customer(team=await team_id())
    member = await member_of(cid)
    key = await adjust_key(clerk, cid)
    response = await clerk.post(f"/customers/{cid}/points/adjust", headers=hx(clerk),
                                data={"delta": "1001", "reason": "大额补偿", "key": key})
    assert response.status_code == 200
    assert "Adjustments over 1,000 points need a manager" in response.text and 'id="f-delta-error"' in response.text
    assert await balance(member["id"]) == 100
    ok = await clerk.post(f"/customers/{cid}/points/adjust", headers=hx(clerk),
                          data={"delta": "1000", "reason": "补偿", "key": key})
    assert ok.status_code == 200 and await balance(member["id"]) == 1100
    key = await adjust_key(boss, cid)
    await boss.post(f"/customers/{cid}/points/adjust", headers=hx(boss),
                    data={"delta": "-1001", "reason": "更正", "key": key})
    assert await balance(member["id"]) == 99


# ---------------------------------------------------------------- coupons


async def test_issue_a_coupon_and_use_it_with_an_order_reference(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    type_id = await coupon_type()
    off = await coupon_type(name="停用券", active="")
    form = await client.get(f"/customers/{cid}/coupons/issue", headers=hx(client))
    assert form.status_code == 200 and "<html" not in form.text
    assert f'value="{type_id}"' in form.text and f'value="{off}"' not in form.text
    bad = await client.post(f"/customers/{cid}/coupons/issue", headers=hx(client), data={"coupon_type_id": str(off)})
    assert bad.status_code == 200 and 'id="f-coupon_type_id-error"' in bad.text and not await Coupon.count()
    response = await client.post(f"/customers/{cid}/coupons/issue", headers=hx(client),
                                 data={"coupon_type_id": str(type_id)})
    assert response.status_code == 200 and "<html" not in response.text
    [coupon] = await coupons.for_member(member["id"])
    assert coupon["code"] in response.text and 'hx-swap-oob="true"' in response.text
    issued = await Coupon.select().first()
    assert (issued["source"], issued["issued_by"]) == ("staff", "boss")
    use_form = await client.get(f"/customers/{cid}/coupons/{coupon['id']}/use", headers=hx(client))
    assert use_form.status_code == 200 and "<html" not in use_form.text and coupon["code"] in use_form.text
    page = await client.get(f"/customers/{cid}/coupons/{coupon['id']}/use")
    assert "<html" in page.text and 'id="use-sheet" aria-labelledby="use-sheet-title" open' in page.text
    used = await client.post(f"/customers/{cid}/coupons/{coupon['id']}/use", headers=hx(client),
                             data={"order_ref": "TM-20261202-1"})
    assert used.status_code == 200 and "<html" not in used.text
    row = await Coupon.select().first()
    assert row["used_at"] is not None and row["used_order"] == "TM-20261202-1"
    assert not await coupons.for_member(member["id"])
    again = await client.post(f"/customers/{cid}/coupons/{coupon['id']}/use", headers=hx(client), data={})
    assert again.status_code == 200 and "This coupon was already used." in again.text


async def test_issue_without_javascript_redirects_to_the_card(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    await member_of(cid)
    type_id = await coupon_type()
    page = await client.get(f"/customers/{cid}/coupons/issue")
    assert 'id="issue-sheet" aria-labelledby="issue-sheet-title" open' in page.text
    response = await client.post(f"/customers/{cid}/coupons/issue", follow_redirects=False,
                                 data={"coupon_type_id": str(type_id), "_csrf_token": client.csrf})
    assert response.status_code == 303 and await Coupon.count() == 1


async def test_another_members_coupon_cannot_be_used_from_this_card(signed_in):
    client = await signed_in("boss", "admin")
    mine, theirs = await add_customer(), await add_customer("李雷", "13900001111")
    await member_of(mine)
    other = await member_of(theirs)
    coupon = await coupons.issue(other["id"], await coupon_type(), source="staff", actor_label="t")
    response = await client.post(f"/customers/{mine}/coupons/{coupon['id']}/use", headers=hx(client), data={})
    assert response.status_code == 404
    assert (await Coupon.select().first())["used_at"] is None


# ---------------------------------------------------------------- scope


async def test_staff_outside_the_customers_team_get_404_on_every_member_route(signed_in):
    clerk = await signed_in("clerk", "staff", team="华南组")
    cid = await add_customer(team=await team_id("华东门店组"))
    member = await member_of(cid)
    coupon = await coupons.issue(member["id"], await coupon_type(), source="staff", actor_label="t")
    gets = [f"/customers/{cid}/member", f"/customers/{cid}/member/join", f"/customers/{cid}/points",
            f"/customers/{cid}/points/adjust", f"/customers/{cid}/coupons/issue",
            f"/customers/{cid}/coupons/{coupon['id']}/use"]
    for path in gets:
        assert (await clerk.get(path)).status_code == 404, path
        assert (await clerk.get(path, headers=hx(clerk))).status_code == 404, path
    posts = {f"/customers/{cid}/member/join": {}, f"/customers/{cid}/points/adjust": {"delta": "5", "reason": "x", "key": "k"},
             f"/customers/{cid}/coupons/issue": {"coupon_type_id": "1"},
             f"/customers/{cid}/coupons/{coupon['id']}/use": {}}
    for path, data in posts.items():
        assert (await clerk.post(path, headers=hx(clerk), data=data)).status_code == 404, path
    assert await balance(member["id"]) == 100 and (await Coupon.select().first())["used_at"] is None


async def test_staff_in_the_team_see_and_act_on_an_unassigned_team_customer(signed_in):
    clerk = await signed_in("clerk", "staff")
    cid = await add_customer(team=await team_id())
    await member_of(cid)
    page = await clerk.get(f"/customers/{cid}")
    assert page.status_code == 200 and "Adjust points" in page.text
    section = await clerk.get(f"/customers/{cid}/member", headers=hx(clerk))
    assert section.status_code == 200 and "<html" not in section.text and 'id="card-member"' in section.text


# ---------------------------------------------------------------- points history


async def test_points_history_is_cursor_paged_as_page_and_fragment(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    for i in range(25):
        await ledger.post(member["id"], i + 1, kind="earn", reason=f"订单{i + 1}", source_type="rule", key=f"h{i}")
    page = await client.get(f"/customers/{cid}/points")
    assert page.status_code == 200 and "<html" in page.text
    assert page.text.count('class="member-entry"') == 20 and "订单25" in page.text and "订单6 " not in page.text
    cursor = re.search(r'/points\?before=(\d+)', page.text).group(1)
    more = await client.get(f"/customers/{cid}/points?before={cursor}", headers=hx(client))
    assert more.status_code == 200 and "<html" not in more.text
    assert more.text.count('class="member-entry"') == 6 and "订单1 " in more.text or "订单1<" in more.text
    assert "sign-up bonus" in more.text and "before=" not in more.text
    older = await client.get(f"/customers/{cid}/points?before={cursor}")
    assert "<html" in older.text and "Newest" in older.text
    assert (await client.get(f"/customers/{await add_customer('李雷', '13900001111')}/points")).status_code == 404


# ---------------------------------------------------------------- scanning a member card


async def test_card_payload_round_trip_and_forgeries_are_refused():
    payload = card_payload("100000018")
    assert re.fullmatch(r"CRMM:100000018:[A-Z2-7]{10}", payload)
    assert read_card_payload(payload) == "100000018"
    assert read_card_payload(f"  {payload}\n") == "100000018"
    for bad in ("", "hello", "CRMM:100000018", "CRMM:100000018:AAAAAAAAAA", payload.replace("100000018", "100000026"),
                "https://example.com/" + payload, None):
        assert read_card_payload(bad) is None


async def test_scan_opens_the_members_card_or_says_it_is_not_a_member_card(signed_in):
    client = await signed_in("boss", "admin")
    cid = await add_customer()
    member = await member_of(cid)
    page = await client.get("/members/scan")
    assert page.status_code == 200 and "<video" in page.text and 'name="no"' in page.text
    assert "jsQR" in page.text or "qr" in page.text.lower()
    response = await client.get("/members/scan", params={"code": card_payload(member["member_no"])},
                                follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/customers/{cid}#card-member"
    bad = await client.get("/members/scan", params={"code": "https://weixin.qq.com/x"})
    assert bad.status_code == 422 and "This is not a member card" in bad.text
    forged = await client.get("/members/scan", params={"code": f"CRMM:{member['member_no']}:AAAAAAAAAA"})
    assert forged.status_code == 422
    typed = await client.get("/members/scan", params={"no": f" {member['member_no']} "}, follow_redirects=False)
    assert typed.status_code == 303 and typed.headers["location"] == f"/customers/{cid}#card-member"
    unknown = await client.get("/members/scan", params={"no": "999999999"})
    assert unknown.status_code == 404 and "No member has this number" in unknown.text


async def test_scan_respects_the_customer_scope(signed_in):
    clerk = await signed_in("clerk", "staff", team="华南组")
    cid = await add_customer(team=await team_id("华东门店组"))
    member = await member_of(cid)
    response = await clerk.get("/members/scan", params={"code": card_payload(member["member_no"])},
                               follow_redirects=False)
    assert response.status_code == 404 and "No member has this number" in response.text


async def test_scan_buttons_on_the_customers_list_and_more(signed_in):
    client = await signed_in("clerk", "staff")
    assert 'href="/members/scan"' in (await client.get("/customers")).text
    assert 'href="/members/scan"' in (await client.get("/more")).text


async def test_members_tab_shows_tiers_shortfalls_and_redemptions_in_scope(signed_in, make_user):
    from db.actor import Actor
    from db.customers.profile import parse_customer
    from db.customers.service import upsert_customer
    from db.engine import raw
    from db.members import membership

    client = await signed_in("zhou.min", "manager", "华东门店组")
    team = (await raw("SELECT team FROM staff_user WHERE username = 'zhou.min'"))[0]["team"]
    mine = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), Actor(None, "t")))[0]
    other = (await upsert_customer(parse_customer({"name": "李雷", "mobile": "13900000000"}), Actor(None, "t")))[0]
    await raw("UPDATE customer SET team = {} WHERE id = {}", team, mine)
    for cid in (mine, other):
        member = await membership.join(cid, "staff", Actor(None, "t"))
        await raw("UPDATE member SET shortfall = 40 WHERE id = {}", member["id"])
    page = await client.get("/members")
    assert page.status_code == 200
    assert "王芳" in page.text and "李雷" not in page.text
    assert "普通" in page.text and "/members/scan" in page.text
