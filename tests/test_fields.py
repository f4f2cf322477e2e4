"""Custom fields: definitions, canonical values per kind, and all-or-nothing writes."""

import pytest

from db.customers import fields
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.errors import ValidationFailed


async def new_customer() -> int:
    return (await upsert_customer(parse_customer({"name": "李娜", "mobile": "13911112222"}), Actor(None, "t")))[0]


async def test_values_are_stored_in_one_canonical_form_per_kind():
    await fields.create_field("skin_type", "肤质", "choice", "干性，油性、混合")
    await fields.create_field("height_cm", "身高", "number")
    await fields.create_field("wedding_day", "结婚纪念日", "date")
    await fields.create_field("note", "备注", "text")
    cid = await new_customer()
    changed = await fields.set_values(cid, {"skin_type": "油性", "height_cm": "165.50",
                                            "wedding_day": "2019/5/20", "note": " =HYPERLINK(\"x\") "})
    assert sorted(changed) == ["height_cm", "note", "skin_type", "wedding_day"]
    assert (await fields.values_for([cid]))[cid] == {
        "skin_type": "油性", "height_cm": "165.5", "wedding_day": "2019-05-20", "note": '=HYPERLINK("x")'}
    assert await fields.set_values(cid, {"skin_type": "油性"}) == []  # unchanged
    await fields.set_values(cid, {"note": ""})  # cleared: no row
    assert "note" not in (await fields.values_for([cid]))[cid]
    assert [f["key"] for f in await fields.list_fields()] == ["skin_type", "height_cm", "wedding_day", "note"]


async def test_one_bad_value_writes_nothing():
    await fields.create_field("skin_type", "肤质", "choice", ["干性", "油性"])
    await fields.create_field("height_cm", "身高", "number")
    cid = await new_customer()
    with pytest.raises(ValidationFailed) as err:
        await fields.set_values(cid, {"height_cm": "170", "skin_type": "中性", "nope": "x"})
    assert set(err.value.errors) == {"custom.skin_type", "custom.nope"}
    assert await fields.values_for([cid]) == {}


@pytest.mark.parametrize("key, label, kind, choices, bad", [
    ("Skin Type", "肤质", "text", None, "key"),
    ("skin", "", "text", None, "label"),
    ("skin", "肤质", "colour", None, "kind"),
    ("skin", "肤质", "choice", "", "choices"),
])
async def test_bad_definitions_are_refused(key, label, kind, choices, bad):
    with pytest.raises(ValidationFailed) as err:
        await fields.create_field(key, label, kind, choices)
    assert bad in err.value.errors
    assert await fields.list_fields() == []


async def test_keys_are_unique_and_fields_can_be_renamed_moved_and_deleted():
    a = await fields.create_field("a", "A", "text")
    b = await fields.create_field("b", "B", "choice", ["x"])
    with pytest.raises(ValidationFailed):
        await fields.create_field("a", "again", "text")
    await fields.update_field(b, "Bee", ["x", "y"])
    await fields.move_field(b, -1)
    listed = await fields.list_fields()
    assert [(f["key"], f["label"], f["choices"]) for f in listed] == [("b", "Bee", ["x", "y"]), ("a", "A", [])]
    cid = await new_customer()
    await fields.set_values(cid, {"a": "v"})
    await fields.delete_field(a)
    assert await fields.values_for([cid]) == {}
