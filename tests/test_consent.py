"""Consent for every customer (db/customers/consent.py): the log and the current state agree,
a later answer wins, concurrent answers leave a consistent state, the migration copies the
members' consents, a merge keeps a withdrawal, and the API's consents endpoint."""

import asyncio
import datetime as dt
import importlib

import pytest

from db.actor import Actor
from db.audit.tables import AuditEntry
from db.customers import consent, merge
from db.customers.profile import parse_customer
from db.customers.scope import Scope
from db.customers.service import upsert_customer
from db.engine import as_datetime, raw
from db.errors import NotFound, ValidationFailed
from db.members import membership

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)
BOSS = Actor(1, "boss", "10.0.0.1")


async def add(name, mobile=None):
    customer_id, _ = await upsert_customer(parse_customer({"name": name, "mobile": mobile}),
                                           Actor(None, "test"))
    return customer_id


async def log_latest(customer_id):
    """The latest log row per channel (at, then id), as the state must hold it."""
    rows = await raw("SELECT channel, granted, source, at FROM customer_consent WHERE customer = {} "
                     "ORDER BY at, id", customer_id)
    latest = {}
    for r in rows:
        latest[r["channel"]] = (bool(r["granted"]), r["source"], as_datetime(r["at"]))
    return latest


async def state(customer_id):
    current = (await consent.current([customer_id])).get(customer_id, {})
    return {k: (v["granted"], v["source"], v["at"]) for k, v in current.items()}


async def test_record_writes_the_log_and_the_state_and_a_later_answer_wins():
    cid = await add("王芳", "13800000001")
    got = await consent.record(cid, "sms", True, "staff", "boss", at=T0)
    assert got["granted"] is True and got["channel"] == "sms" and got["id"]
    await consent.record(cid, "sms", False, "api", "key:1", detail="shop app", at=T0 + dt.timedelta(hours=1))
    # an answer recorded now but dated earlier (a late import) goes in the log, not the state
    await consent.record(cid, "sms", True, "import", "import:3", at=T0 + dt.timedelta(minutes=30))
    await consent.record(cid, "email", True, "card", "boss", at=T0)
    assert await state(cid) == {"sms": (False, "api", T0 + dt.timedelta(hours=1)),
                                "email": (True, "card", T0)}
    assert await state(cid) == await log_latest(cid)
    assert len(await consent.history(cid)) == 4
    assert (await consent.history(cid))[0]["detail"] == "shop app"
    assert await consent.current([cid + 999]) == {}


async def test_record_refuses_bad_input_and_unknown_customers():
    cid = await add("李雷", "13800000002")
    with pytest.raises(ValidationFailed) as bad:
        await consent.record(cid, "fax", "yes", "who", "boss")
    assert set(bad.value.errors) == {"channel", "granted", "source"}
    with pytest.raises(NotFound):
        await consent.record(cid + 999, "sms", True, "staff", "boss")
    assert await raw("SELECT id FROM customer_consent") == []


async def test_concurrent_records_leave_the_state_equal_to_the_latest_log_row():
    cid = await add("韩梅梅", "13800000003")
    stamps = [T0 + dt.timedelta(seconds=s) for s in (5, 1, 9, 3, 7, 2, 8, 4, 6, 0)]
    await asyncio.gather(*(consent.record(cid, "push", i % 2 == 0, "api", f"k{i}", at=at)
                           for i, at in enumerate(stamps)))
    assert await state(cid) == await log_latest(cid)
    assert (await state(cid))["push"][2] == T0 + dt.timedelta(seconds=9)
    # and without dates: each takes now() inside its transaction
    await asyncio.gather(*(consent.record(cid, "sms", i % 2 == 0, "api", f"k{i}") for i in range(10)))
    assert await state(cid) == await log_latest(cid)
    rows = await raw("SELECT COUNT(*) AS n FROM customer_consent_state WHERE customer = {}", cid)
    assert int(rows[0]["n"]) == 2


async def test_the_member_wrappers_write_the_customer_log_only():
    from tests.test_member_signin import make_member

    member = await make_member("赵敏", "13800000009")
    await membership.set_consent(member["id"], "email", True, "member_page", "member")
    await membership.set_consent(member["id"], "email", True, "member_page", "member")  # no change
    assert (await membership.consents(member["id"]))["email"]["granted"] is True
    assert len(await consent.history(member["customer"])) == 1
    assert await raw("SELECT id FROM member_consent") == []
    with pytest.raises(ValidationFailed):
        await membership.set_consent(member["id"], "fax", True, "member_page", "member")


async def test_the_migration_copies_member_consents_into_the_log_and_the_state():
    from tests.test_member_signin import make_member

    member = await make_member("周芷若", "13800000010")
    other = await make_member("张无忌", "13800000011")
    rows = [(member["id"], "sms", True, "signup", T0), (member["id"], "sms", False, "member_page", T0 + dt.timedelta(days=1)),
            (member["id"], "email", True, "staff", T0), (other["id"], "push", True, "api", T0)]
    for m, channel, granted, source, at in rows:
        await raw("INSERT INTO member_consent (member, channel, granted, source, actor, at) "
                  "VALUES ({}, {}, {}, {}, 'x', {})", m, channel, granted, source, at)
    migration = importlib.import_module("db.members.migrations.members_2026_12_08t00_20_00_000000")
    for sql in migration.BOTH:
        await raw(sql)
    assert await state(member["customer"]) == {
        "sms": (False, "member_page", T0 + dt.timedelta(days=1)), "email": (True, "staff", T0)}
    assert await state(other["customer"]) == {"push": (True, "api", T0)}
    assert len(await consent.history(member["customer"])) == 3
    assert await membership.consents(member["id"]) == (await consent.current([member["customer"]]))[member["customer"]]


@pytest.mark.parametrize("withdrawn_on", ["merged", "survivor"])
async def test_a_merge_keeps_a_withdrawal_on_either_side(withdrawn_on):
    survivor, merged = await add("A", "13800000020"), await add("B", "13800000021")
    no, yes = (merged, survivor) if withdrawn_on == "merged" else (survivor, merged)
    await consent.record(no, "sms", False, "unsubscribe", "x", at=T0)
    await consent.record(yes, "sms", True, "staff", "x", at=T0 + dt.timedelta(days=1))  # a later yes
    await consent.record(merged, "email", True, "api", "x", at=T0)  # only the merged one answered
    await consent.record(survivor, "push", True, "api", "x", at=T0)
    await consent.record(merged, "push", True, "api", "x", at=T0 + dt.timedelta(hours=1))
    await merge.merge_customers(Scope.everything(), survivor, merged, BOSS)
    now_state = await state(survivor)
    assert now_state["sms"][0] is False and now_state["email"][:2] == (True, "api")
    assert now_state["push"][:2] == (True, "api") and now_state["push"][2] == T0 + dt.timedelta(hours=1)
    assert now_state == await log_latest(survivor)
    assert await raw("SELECT id FROM customer_consent WHERE customer = {}", merged) == []
    assert await raw("SELECT id FROM customer_consent_state WHERE customer = {}", merged) == []


async def test_api_records_a_consent_for_any_customer_and_audits_it(api):
    cid = await add("王芳", "13800000030")
    response = await api.post(f"/api/v1/customers/{cid}/consents",
                              json={"channel": "sms", "granted": True, "source": "app signup"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in ("customer_id", "channel", "granted", "source", "recorded_via")} == {
        "customer_id": cid, "channel": "sms", "granted": True, "source": "app signup", "recorded_via": "api"}
    assert dt.datetime.fromisoformat(body["at"])
    withdrawn = await api.post(f"/api/v1/customers/{cid}/consents",
                               json={"channel": "sms", "granted": False, "source": "replied R"})
    assert withdrawn.status_code == 201
    assert (await state(cid))["sms"][:2] == (False, "api")
    assert [h["detail"] for h in await consent.history(cid)] == ["replied R", "app signup"]
    audits = await AuditEntry.select().where(AuditEntry.action == "customer.consent")
    assert len(audits) == 2 and all(a["target_id"] == cid for a in audits)
    schema = (await api.get("/api/docs/openapi.json")).json()
    assert "post" in schema["paths"]["/api/v1/customers/{customer_id}/consents"]


@pytest.mark.parametrize("body, field", [
    ({"channel": "fax", "granted": True, "source": "x"}, "channel"),
    ({"granted": True, "source": "x"}, "channel"),
    ({"channel": "sms", "granted": "yes", "source": "x"}, "granted"),
    ({"channel": "sms", "granted": 1, "source": "x"}, "granted"),
    ({"channel": "sms", "granted": None, "source": "x"}, "granted"),
    ({"channel": "sms", "granted": True}, "source"),
    ({"channel": "sms", "granted": True, "source": "   "}, "source"),
    ({"channel": "sms", "granted": True, "source": 5}, "source"),
    ({"channel": "sms", "granted": True, "source": "x" * 61}, "source"),
    ({"channel": ["sms"], "granted": True, "source": "x"}, "channel"),
])
async def test_api_refuses_bad_input_with_field_errors(api, body, field):
    cid = await add("李雷", "13800000031")
    response = await api.post(f"/api/v1/customers/{cid}/consents", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]
    assert await raw("SELECT id FROM customer_consent") == []


async def test_api_unknown_customer_and_unreadable_bodies_are_never_a_500(api):
    cid = await add("韩梅梅", "13800000032")
    good = {"channel": "email", "granted": True, "source": "x"}
    assert (await api.post(f"/api/v1/customers/{cid + 999}/consents", json=good)).status_code == 404
    assert (await api.post("/api/v1/customers/99999999999999999999/consents", json=good)).status_code == 404
    for content in (b"[1, 2]", b"not json", b'"text"', b"{"):
        response = await api.post(f"/api/v1/customers/{cid}/consents", content=content,
                                  headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 422), (content, response.status_code)
    response = await api.post(f"/api/v1/customers/{cid}/consents",
                              json={**good, "source": "bad\x00text"})
    assert response.status_code == 422
    assert await raw("SELECT id FROM customer_consent") == []


async def test_api_needs_a_key(client):
    cid = await add("赵敏", "13800000033")
    response = await client.post(f"/api/v1/customers/{cid}/consents",
                                 json={"channel": "sms", "granted": True, "source": "x"})
    assert response.status_code == 401


# ---------------------------------------------------------------- the 360 card


def hx(client):
    return {"HX-Request": "true", "X-CSRFToken": client.csrf}


async def test_the_card_shows_current_consent_and_staff_record_one(signed_in_english):
    client = await signed_in_english("boss", "admin")
    cid = await add("王芳", "13800000040")  # not a member: consent is for everyone
    await consent.record(cid, "email", True, "api", "key:1", at=T0)
    page = await client.get(f"/customers/{cid}")
    assert page.status_code == 200 and 'id="card-consents"' in page.text
    assert "Never asked" in page.text and 'data-channel="email"' in page.text and "API" in page.text
    form = await client.get(f"/customers/{cid}/consent", headers=hx(client))
    assert form.status_code == 200 and "<html" not in form.text and 'id="consent-form"' in form.text
    bad = await client.post(f"/customers/{cid}/consent", headers=hx(client), data={"channel": "fax"})
    assert bad.status_code == 200 and "Choose a channel." in bad.text and "Choose the customer" in bad.text
    assert await raw("SELECT id FROM customer_consent WHERE source = 'card'") == []
    done = await client.post(f"/customers/{cid}/consent", headers=hx(client),
                             data={"channel": "sms", "granted": "0"})
    assert done.status_code == 200 and "<html" not in done.text
    assert 'id="card-member" aria-labelledby="member-title" hx-swap-oob="true"' in done.text
    assert "hx-trigger" in {k.lower() for k in done.headers}
    assert (await state(cid))["sms"][:2] == (False, "card")
    audits = await AuditEntry.select().where(AuditEntry.action == "customer.consent")
    assert len(audits) == 1 and audits[0]["actor"] == "boss"
    # without JavaScript: the card with the sheet open, then Post/Redirect/Get
    plain = await client.get(f"/customers/{cid}/consent")
    assert 'id="consent-sheet" aria-labelledby="consent-sheet-title" open' in plain.text
    redirect = await client.post(f"/customers/{cid}/consent", follow_redirects=False,
                                 data={"channel": "push", "granted": "1", "_csrf_token": client.csrf})
    assert redirect.status_code == 303 and (await state(cid))["push"][:2] == (True, "card")


async def test_the_card_form_respects_the_scope(signed_in_english):
    from db.customers.tables import Customer
    from db.staff.tables import Team

    team = (await Team.insert(Team(name="华南组")).returning(Team.id))[0]["id"]
    client = await signed_in_english("wang.fang", "staff")
    cid = await add("李雷", "13800000041")
    await Customer.update({Customer.team: team}).where(Customer.id == cid)
    response = await client.post(f"/customers/{cid}/consent", headers=hx(client),
                                 data={"channel": "sms", "granted": "1"})
    assert response.status_code == 404
    assert await raw("SELECT id FROM customer_consent") == []


async def test_a_consent_recorded_during_a_merge_is_kept_or_a_clean_not_found():
    for i in range(3):
        survivor, merged = await add(f"S{i}", f"1380000010{i}"), await add(f"M{i}", f"1380000020{i}")
        await consent.record(survivor, "sms", True, "api", "x", at=T0)

        async def withdraw():
            try:
                return await consent.record(merged, "sms", False, "unsubscribe", "x")
            except NotFound:
                return None

        _, got = await asyncio.gather(merge.merge_customers(Scope.everything(), survivor, merged, BOSS),
                                      withdraw())
        assert await raw("SELECT id FROM customer_consent WHERE customer = {}", merged) == []
        if got is not None:  # before the merge: the withdrawal went with it
            assert (await state(survivor))["sms"][0] is False
        assert await state(survivor) == await log_latest(survivor)
