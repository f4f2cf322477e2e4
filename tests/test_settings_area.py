"""The one settings-page mechanism (web/core/settings_area.py) on an area of its own, kept in
memory, and the one form reader (web/core/forms.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from db.errors import NotFound, ValidationFailed
from web.core import i18n
from web.core.errors import HANDLERS
from web.core.forms import Field, read, texts
from web.core.params import CrmRequest
from web.core.settings_area import Area, Row, router

# ---------------------------------------------------------------- the form reader


def test_the_reader_gives_text_typed_values_and_translated_errors():
    fields = (Field("name", max_length=5), Field("count", kind="number"), Field("price", kind="money"),
              Field("on", kind="checkbox"), Field("off", kind="checkbox"), Field("size", kind="choice",
              choices=(("s", "Small"), ("m", "Medium"))), Field("owner", kind="id"), Field("missing"),
              Field("words", kind="note"))
    form = read({"name": "abcdefgh", "count": "1,200", "price": "¥12.5", "on": "1", "off": "yes",
                 "size": "m", "owner": "42"}, fields)
    assert form.ok and form.text["name"] == "abcde" and form.text["missing"] == ""
    assert form.values == {"name": "abcde", "count": 1200, "price": 1250, "on": True, "off": False,
                           "size": "m", "owner": 42, "missing": ""}
    assert "words" not in form.text


def test_bad_values_are_field_errors_in_the_request_language():
    fields = (Field("count", kind="number"), Field("price", kind="money"), Field("size", kind="choice",
              choices=(("s", "S"),)), Field("owner", kind="id"), Field("name", required=True),
              Field("empty", kind="number"))
    typed = {"count": "12a", "price": "1.234", "size": "xl", "owner": "x"}
    i18n.activate("en")
    form = read(typed, fields)
    assert form.errors == {"count": "a whole number", "price": "at most two decimal places",
                           "size": "not one of the options", "owner": "not one of the options",
                           "name": "required"}
    assert form.values["count"] is None and form.values["empty"] is None
    i18n.activate("zh-CN")
    assert read(typed, fields).errors["count"] == "须为整数"


def test_texts_are_plain_capped_fields():
    assert read({"a": "x" * 50}, texts("a", "b", max_length=10)).text == {"a": "x" * 10, "b": ""}


# ---------------------------------------------------------------- the settings area, on its own


class Store:
    def __init__(self):
        self.items: dict[int, dict] = {}

    async def list(self):
        return list(self.items.values())

    async def get(self, item_id):
        if item_id not in self.items:
            raise NotFound()
        return self.items[item_id]

    def check(self, values: dict) -> dict:
        errors = {}
        if not values["name"].strip():
            errors["name"] = "required"
        if not values["size"].isdigit():
            errors["size"] = "a whole number"
        if errors:
            raise ValidationFailed(errors)
        return {"name": values["name"].strip(), "size": int(values["size"]), "active": values["active"] == "1"}

    async def create(self, values, actor):
        item_id = len(self.items) + 1
        self.items[item_id] = {"id": item_id, **self.check(values)}

    async def update(self, item_id, values, actor):
        self.items[item_id] = {"id": item_id, **self.check(values)}

    async def delete(self, item_id, actor):
        if self.items[item_id]["size"] > 10:
            raise ValidationFailed({"id": "in use"})
        del self.items[item_id]


@pytest.fixture
async def area_client():
    store = Store()
    area = Area(
        prefix="/settings/boxes", key="box", title="Boxes", subtitle="Boxes to ship in.",
        new_title="New box", save_label="Save box", delete_label="Delete box", delete_note="Gone for good.",
        fields=(Field("name", "Name", required=True, attrs={"maxlength": 20}),
                Field("size", "Size", kind="number", hint="In litres."),
                Field("active", "Active", kind="checkbox")),
        row=lambda b: Row(b["name"], [f"{b['size']} l"]), list=store.list, get=store.get,
        values=lambda b: {"name": b["name"], "size": str(b["size"]), "active": "1" if b["active"] else ""},
        create=store.create, update=store.update, delete=store.delete,
        messages={"created": "Box added.", "saved": "Box saved.", "deleted": "Box deleted."},
        row_id="box-", toggle=True, empty=("No boxes yet", "Add one.", "New box", "tag"))
    async def as_boss(request):  # what the auth middleware puts there for a signed-in manager
        request.scope["user"] = SimpleNamespace(id=None, username="boss")
        i18n.activate("en")

    app = Litestar(route_handlers=[router(area, [])], request_class=CrmRequest, before_request=as_boss,
                  exception_handlers=HANDLERS)
    async with AsyncTestClient(app=app) as client:
        yield client, store


async def test_an_area_lists_creates_refuses_bad_input_edits_switches_and_deletes(area_client):
    client, store = area_client
    empty = await client.get("/settings/boxes")
    assert empty.status_code == 200 and "No boxes yet" in empty.text and 'href="/settings/boxes/new"' in empty.text

    form = await client.get("/settings/boxes/new")
    assert 'action="/settings/boxes/new"' in form.text and 'name="size"' in form.text and "In litres." in form.text

    bad = await client.post("/settings/boxes/new", data={"name": "Big", "size": "lots"})
    assert bad.status_code == 422 and store.items == {}
    assert 'id="f-size-error"' in bad.text and "a whole number" in bad.text and 'value="Big"' in bad.text

    made = await client.post("/settings/boxes/new", data={"name": "Big", "size": "20", "active": "1"},
                             follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/settings/boxes?msg=box_created"
    listing = await client.get("/settings/boxes?msg=box_created")
    assert "Box added." in listing.text and "Big" in listing.text and "20 l" in listing.text

    edit = await client.get("/settings/boxes/1")
    assert 'value="Big"' in edit.text and 'action="/settings/boxes/1/delete"' in edit.text
    saved = await client.post("/settings/boxes/1", data={"name": "Small", "size": "5", "active": "1"},
                              follow_redirects=False)
    assert saved.headers["location"] == "/settings/boxes?msg=box_saved" and store.items[1]["name"] == "Small"
    refused = await client.post("/settings/boxes/1", data={"name": " ", "size": "5"})
    assert refused.status_code == 422 and store.items[1]["name"] == "Small" and "required" in refused.text

    switched = await client.post("/settings/boxes/1/active", headers={"HX-Request": "true"})
    assert switched.status_code == 200 and "<html" not in switched.text and 'id="box-1"' in switched.text
    assert store.items[1]["active"] is False and "Switched off." in switched.headers["HX-Trigger"]

    assert (await client.get("/settings/boxes/1/delete")).status_code == 200
    assert (await client.get("/settings/boxes/9")).status_code == 404
    gone = await client.post("/settings/boxes/1/delete", follow_redirects=False)
    assert gone.headers["location"] == "/settings/boxes?msg=box_deleted" and store.items == {}


async def test_a_refused_delete_opens_the_sheet_with_the_reason(area_client):
    client, store = area_client
    await client.post("/settings/boxes/new", data={"name": "Crate", "size": "50"})
    refused = await client.post("/settings/boxes/1/delete")
    assert refused.status_code == 422 and "in use" in refused.text and 1 in store.items
    assert '<dialog class="sheet" id="delete-sheet" aria-labelledby="delete-sheet-title" open>' in refused.text
