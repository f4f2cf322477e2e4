"""The pipeline through the web layer: the board (phone and desktop from one page), creating
with bad input, moving from the sheet (HTMX) and without JavaScript, scope on every route,
stage settings for managers, and the customer card's section."""

from __future__ import annotations

import re

import pytest

from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer
from db.pipeline import board, opportunities
from db.pipeline.tables import Opportunity, OpportunityStageChange, PipelineStage
from db.staff.tables import Team
from web.core.templating import env

ALL = Scope.everything()


@pytest.fixture
def signed_in(signed_in_english):
    return signed_in_english


async def add_customer(name="王芳", mobile="13812345678", owner=None, team=None) -> int:
    cid = (await upsert_customer(parse_customer({"name": name, "mobile": mobile}), Actor(None, "t")))[0]
    await Customer.update({Customer.owner: owner, Customer.team: team}).where(Customer.id == cid)
    return cid


async def team_of(name="华东门店组") -> int:
    return (await Team.select(Team.id).where(Team.name == name).first())["id"]


async def stage_id(code: str) -> int:
    return (await PipelineStage.select(PipelineStage.id).where(PipelineStage.code == code).first())["id"]


async def new_opp(owner_id, cid, title="Spring restock", amount="12000.00", stage=None) -> int:
    values = {"customer_id": str(cid), "title": title, "amount": amount, "owner_id": str(owner_id)}
    if stage:
        values["stage_id"] = str(await stage_id(stage))
    return await opportunities.create(ALL, values, Actor(owner_id, "t"))


def column(html: str, stage: int) -> str:
    """One column's HTML out of the board."""
    start = html.index(f'id="stage-{stage}"')
    end = html.find("<section", start)
    return html[start:end if end > 0 else None]


def hx(client, **extra):
    return {"HX-Request": "true", "X-CSRFToken": client.csrf, **extra}


async def test_the_board_shows_one_template_with_chips_columns_and_totals(signed_in):
    me = await signed_in()
    cid = await add_customer(owner=me.user_id, team=await team_of())
    await new_opp(me.user_id, cid)
    won = await new_opp(me.user_id, cid, "Autumn", "500", stage="won")
    page = await me.get("/pipeline")
    assert page.status_code == 200
    html = page.text
    assert html.count('class="stage-chip ') == 5 and html.count('<section class="board-column') == 5
    assert 'aria-current="page"' in html and "Spring restock" in html and "王芳" in html
    assert "¥12,000.00" in html and "Won this month" in html and "¥500.00" in html
    # the chips switch with HTMX (the #board fragment) and as plain links
    fragment = await me.get(f"/pipeline?stage={await stage_id('won')}", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="board"') and "<html" not in fragment.text
    assert f'id="opp-{won}"' in fragment.text


async def test_creating_with_bad_input_shows_each_message_and_saves_nothing(signed_in):
    me = await signed_in()
    cid = await add_customer(owner=me.user_id, team=await team_of())
    form = await me.get(f"/pipeline/new?customer_id={cid}")
    assert "王芳" in form.text and 'inputmode="decimal"' in form.text and "¥" in form.text
    assert f'<option value="{me.user_id}" selected' in form.text  # owner defaults to me
    bad = await me.post("/pipeline", data={"_csrf_token": me.csrf, "customer_id": str(cid), "title": "",
                                           "amount": "12.345", "expected_close_on": "soon"})
    assert bad.status_code == 422
    for message in ("required", "at most two decimal places", "a date like 2024-03-05"):
        assert message in bad.text
    assert await Opportunity.count() == 0
    good = await me.post("/pipeline", data={"_csrf_token": me.csrf, "customer_id": str(cid),
                                            "title": "Spring restock", "amount": "¥1,200.50",
                                            "owner_id": str(me.user_id)}, follow_redirects=False)
    assert good.status_code == 303
    row = await Opportunity.select().first()
    assert row["amount_fen"] == 120050 and row["customer"] == cid


async def test_the_customer_search_on_the_form_finds_only_visible_customers(signed_in, make_user):
    me = await signed_in()
    other = await make_user("other", "staff", "华东门店组")
    await add_customer("王芳", owner=me.user_id, team=await team_of())
    await add_customer("王小明", "13912345678", owner=other, team=await team_of())
    found = await me.get("/pipeline/customers?q=王", headers={"HX-Request": "true"})
    assert "王芳" in found.text and "王小明" not in found.text
    nojs = await me.get("/pipeline/new?q=王&title=Keep+me")
    assert 'name="customer_id"' in nojs.text and 'value="Keep me"' in nojs.text


async def test_moving_from_the_sheet_swaps_the_board_and_toasts(signed_in):
    me = await signed_in()
    cid = await add_customer(owner=me.user_id, team=await team_of())
    oid = await new_opp(me.user_id, cid)
    lead, quoted = await stage_id("lead"), await stage_id("quoted")
    sheet = await me.get(f"/pipeline/{oid}/move?stage={lead}", headers={"HX-Request": "true"})
    assert sheet.text.lstrip().startswith('<form id="move-form"') and 'hx-target="#board"' in sheet.text
    assert sheet.text.count('name="stage_id"') == 5
    moved = await me.post(f"/pipeline/{oid}/move", headers=hx(me), data={
        "stage_id": str(quoted), "seen_stage_id": str(lead), "from": "board", "view_stage": str(lead)})
    assert moved.status_code == 200 and "crm:toast" in moved.headers["HX-Trigger"]
    assert f'id="opp-{oid}"' not in column(moved.text, lead)  # it left the Lead column
    assert f'id="opp-{oid}"' in column(moved.text, quoted)
    assert 'board-column is-current" id="stage-%d"' % lead in moved.text  # still looking at Lead
    assert (await Opportunity.select().first())["stage"] == quoted
    assert await OpportunityStageChange.count().where(OpportunityStageChange.kind == "moved") == 1
    # the same move again from a stale screen: nothing recorded, the board says so
    again = await me.post(f"/pipeline/{oid}/move", headers=hx(me), data={
        "stage_id": str(await stage_id("won")), "seen_stage_id": str(lead), "from": "board", "view_stage": str(lead)})
    assert "Someone else moved it" in again.headers["HX-Trigger"]
    assert (await Opportunity.select().first())["stage"] == quoted


async def test_moving_without_javascript_is_a_form_and_a_redirect(signed_in):
    me = await signed_in()
    oid = await new_opp(me.user_id, await add_customer(owner=me.user_id, team=await team_of()))
    page = await me.get(f"/pipeline/{oid}/move")
    assert "<html" in page.text and 'hx-post' not in page.text
    done = await me.post(f"/pipeline/{oid}/move", data={"_csrf_token": me.csrf, "stage_id": str(await stage_id("won"))},
                         follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/pipeline/{oid}?msg=moved"
    detail = await me.get(done.headers["location"])
    assert "Moved." in detail.text and "Stage history" in detail.text and "Lead → Won" in detail.text


async def test_staff_get_404_for_another_persons_customers_opportunity(signed_in, make_user):
    me = await signed_in()
    other = await make_user("other", "staff", "华东门店组")
    oid = await new_opp(other, await add_customer(owner=other, team=await team_of()))
    for path in (f"/pipeline/{oid}", f"/pipeline/{oid}/edit", f"/pipeline/{oid}/move", f"/pipeline/{oid}/delete"):
        assert (await me.get(path)).status_code == 404, path
    for path, data in ((f"/pipeline/{oid}/move", {"stage_id": str(await stage_id("won"))}),
                       (f"/pipeline/{oid}/edit", {"title": "x"}), (f"/pipeline/{oid}/delete", {})):
        response = await me.post(path, data={"_csrf_token": me.csrf, **data}, follow_redirects=False)
        assert response.status_code == 404, path
    assert "Spring restock" not in (await me.get("/pipeline")).text
    assert (await Opportunity.select().first())["stage"] == await stage_id("lead")


async def test_edit_and_delete(signed_in):
    me = await signed_in()
    oid = await new_opp(me.user_id, await add_customer(owner=me.user_id, team=await team_of()))
    form = await me.get(f"/pipeline/{oid}/edit")
    assert 'value="12000.00"' in form.text
    bad = await me.post(f"/pipeline/{oid}/edit", data={"_csrf_token": me.csrf, "title": "x", "amount": "-1"})
    assert bad.status_code == 422 and "must be zero or more" in bad.text
    ok = await me.post(f"/pipeline/{oid}/edit", data={"_csrf_token": me.csrf, "title": "Summer", "amount": "10"},
                       follow_redirects=False)
    assert ok.status_code == 303 and (await Opportunity.select().first())["title"] == "Summer"
    gone = await me.post(f"/pipeline/{oid}/delete", data={"_csrf_token": me.csrf}, follow_redirects=False)
    assert gone.status_code == 303 and await Opportunity.count() == 0


async def test_stage_settings_are_for_managers(signed_in):
    staff = await signed_in("staff.one", "staff")
    assert (await staff.get("/settings/pipeline")).status_code in (403, 404)
    assert "/settings/pipeline" not in (await staff.get("/more")).text
    boss = await signed_in("boss", "manager")
    assert "/pipeline" in (await boss.get("/more")).text
    page = await boss.get("/settings/pipeline")
    assert page.status_code == 200 and "Pipeline stages" in page.text
    added = await boss.post("/settings/pipeline", data={"_csrf_token": boss.csrf, "name": "Sample sent"},
                            follow_redirects=False)
    assert added.status_code == 303
    empty = await boss.post("/settings/pipeline", data={"_csrf_token": boss.csrf, "name": " "})
    assert empty.status_code == 422 and "required" in empty.text
    won = await stage_id("won")
    refused = await boss.post(f"/settings/pipeline/{won}/delete", data={"_csrf_token": boss.csrf})
    assert refused.status_code == 422 and "the pipeline needs a won stage" in refused.text
    new_id = (await PipelineStage.select(PipelineStage.id).where(PipelineStage.name == "Sample sent").first())["id"]
    await boss.post(f"/settings/pipeline/{new_id}", data={"_csrf_token": boss.csrf, "name": "Samples"})
    await boss.post(f"/settings/pipeline/{new_id}/move", data={"_csrf_token": boss.csrf, "direction": "up"})
    names = [s["code"] or s["name"] for s in await PipelineStage.select().order_by(PipelineStage.position)]
    assert names == ["lead", "contacted", "Samples", "quoted", "won", "lost"]
    assert "Samples" in (await boss.get("/pipeline")).text


async def test_the_timeline_shows_moves_in_words(signed_in):
    me = await signed_in()
    cid = await add_customer(owner=me.user_id, team=await team_of())
    oid = await new_opp(me.user_id, cid, stage="quoted")
    await opportunities.move(ALL, oid, await stage_id("won"), Actor(me.user_id, "wang.fang"))
    card = await me.get(f"/customers/{cid}")
    text = re.sub(r"\s+", " ", card.text)
    assert "Opportunity moved from Quoted to Won" in text and "Spring restock" in text
    assert "¥12,000.00" in text and "by wang.fang" in text


async def test_the_card_section_lists_open_opportunities(signed_in):
    me = await signed_in()
    cid = await add_customer(owner=me.user_id, team=await team_of())
    await new_opp(me.user_id, cid)
    await new_opp(me.user_id, cid, "Closed one", stage="lost")
    section = await board.card_section(ALL, cid)
    from web.core import i18n
    i18n.activate("en")
    html = env.get_template("pipeline/_card_section.html").render(pipeline_section=section, csrf_token="")
    assert "Spring restock" in html and "Closed one" not in html and "Lead" in html
    assert f"/pipeline/new?customer_id={cid}" in html and "¥12,000.00" in html


async def test_a_long_column_shows_more_with_htmx_and_without(signed_in, monkeypatch):
    monkeypatch.setattr(board, "PER_STAGE", 2)
    monkeypatch.setattr(board.board, "__kwdefaults__", {**board.board.__kwdefaults__, "per_stage": 2})
    monkeypatch.setattr(board.column, "__kwdefaults__", {**board.column.__kwdefaults__, "limit": 2})
    me = await signed_in()
    cid = await add_customer(owner=me.user_id, team=await team_of())
    ids = [await new_opp(me.user_id, cid, f"Deal {i}") for i in range(5)]
    lead = await stage_id("lead")
    page = await me.get(f"/pipeline?stage={lead}")
    more = re.search(r'href="(/pipeline\?stage=\d+&amp;after=[0-9.]+)"', page.text)
    assert more and f'id="opp-{ids[2]}"' not in page.text
    url = more.group(1).replace("&amp;", "&")
    fragment = await me.get(url, headers={"HX-Request": "true"})
    assert f'id="opp-{ids[2]}"' in fragment.text and f'id="opp-{ids[1]}"' in fragment.text
    assert "<html" not in fragment.text and "after=" in fragment.text  # and one more page after
    nojs = await me.get(url)
    assert "<html" in nojs.text and f'id="opp-{ids[2]}"' in nojs.text
    mine = await me.get(f"/pipeline?stage={lead}&mine=1")
    assert re.search(r'href="/pipeline\?stage=\d+&amp;mine=1&amp;after=[0-9.]+"', mine.text)
