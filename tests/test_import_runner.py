"""Importing: upserts by identity, duplicates inside a file, re-imports that change nothing,
whole batches only when interrupted, teams and scopes, custom fields and the audit entry."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from db.audit.tables import AuditEntry
from db.customers.fields import create_field
from db.customers.tables import Customer, CustomerFieldValue
from db.errors import ValidationFailed
from db.imports import jobs, runner
from db.imports.tables import ImportJob
from db.orders.tables import Order
from tests.import_helpers import CUSTOMER_HEADERS, ORDER_HEADERS, mobile, order_rows, write_csv, write_xlsx


def counts(job):
    return {k: job[k] for k in ("created", "updated", "unchanged", "rejected")}


async def test_customers_upsert_by_mobile_then_email_changing_only_what_the_file_sets(tmp_path):
    first = write_csv(tmp_path / "a.csv", [
        CUSTOMER_HEADERS,
        ["张三", "13812345678", "zs@example.com", "男", "1990-05-17", "浙江", "杭州"],
        ["李四", "", "li@example.com", "女", "", "上海", "上海"],
    ])
    job = await jobs.import_file("customers", first)
    assert job["status"] == "done" and counts(job) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    second = write_csv(tmp_path / "b.csv", [
        ["姓名", "手机", "邮箱", "城市"],
        ["张三", "138 1234 5678", "", "宁波"],  # by mobile: only the city changes
        ["李四", "13900001111", "LI@example.com", ""],  # by e-mail: gains a mobile
    ])
    job = await jobs.import_file("customers", second)
    assert counts(job) == {"created": 0, "updated": 2, "unchanged": 0, "rejected": 0}
    rows = await Customer.select(Customer.name, Customer.mobile, Customer.email, Customer.gender,
                                 Customer.birthday, Customer.city).order_by(Customer.id)
    assert rows == [
        {"name": "张三", "mobile": "+8613812345678", "email": "zs@example.com", "gender": "male",
         "birthday": dt.date(1990, 5, 17), "city": "宁波"},
        {"name": "李四", "mobile": "+8613900001111", "email": "li@example.com", "gender": "female",
         "birthday": None, "city": "上海"},
    ]
    assert (await Customer.select(Customer.search_text).where(Customer.name == "李四").first())[
        "search_text"] == "李四 13900001111 li@example.com"


async def test_duplicate_rows_inside_a_file_merge_and_a_reimport_changes_nothing(tmp_path):
    path = write_csv(tmp_path / "dup.csv", [
        CUSTOMER_HEADERS,
        ["王芳", "13812345678", "", "女", "", "", "杭州"],
        ["王芳", "13812345678", "", "女", "", "", "杭州"],  # identical: unchanged
        ["王芳", "13812345678", "wf@example.com", "", "", "浙江", ""],  # adds e-mail and province
        ["赵六", "13912345678", "", "", "", "", ""],
    ], "utf-8-sig")
    job = await jobs.import_file("customers", path)
    assert counts(job) == {"created": 2, "updated": 1, "unchanged": 1, "rejected": 0}
    assert await Customer.count() == 2
    wang = await Customer.select().where(Customer.name == "王芳").first()
    assert (wang["email"], wang["province"], wang["city"]) == ("wf@example.com", "浙江", "杭州")
    stamp = wang["updated_at"]
    again = await jobs.import_file("customers", path)
    assert counts(again) == {"created": 0, "updated": 0, "unchanged": 4, "rejected": 0}
    assert (await Customer.select().where(Customer.name == "王芳").first())["updated_at"] == stamp


async def test_orders_create_their_customers_and_a_reimport_changes_nothing(tmp_path):
    path = write_csv(tmp_path / "orders.csv", order_rows(90, customers=30), "gb18030")
    job = await jobs.import_file("orders", path)
    assert counts(job) == {"created": 90, "updated": 0, "unchanged": 0, "rejected": 0}
    assert await Order.count() == 90 and await Customer.count() == 30
    one = await Customer.select().where(Customer.mobile == "+86" + mobile(0)).first()
    assert (one["orders_count"], one["first_channel"], one["name"]) == (3, "tmall", "客户0")
    assert one["total_spent_fen"] == sum(((i % 500) + 1) * 100 + 50 for i in (0, 30, 60))
    assert one["lifecycle_stage"] != "prospect"
    again = await jobs.import_file("orders", path)
    assert counts(again) == {"created": 0, "updated": 0, "unchanged": 90, "rejected": 0}
    assert await Order.count() == 90 and await Customer.count() == 30


async def test_a_status_change_updates_the_order_and_the_figures(tmp_path):
    rows = order_rows(2, customers=1)
    await jobs.import_file("orders", write_csv(tmp_path / "a.csv", rows))
    rows[1][6] = "已退款"
    rows.append(list(rows[2]))  # the same order twice in the file: the repeat is unchanged
    job = await jobs.import_file("orders", write_csv(tmp_path / "b.csv", rows))
    assert counts(job) == {"created": 0, "updated": 1, "unchanged": 2, "rejected": 0}
    statuses = await Order.select(Order.external_id, Order.status).order_by(Order.external_id)
    assert [s["status"] for s in statuses] == ["refunded", "paid"]
    assert (await Customer.select(Customer.orders_count).first())["orders_count"] == 1


async def test_required_column_missing_writes_nothing(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["姓名", "城市"], ["张三", "杭州"]])
    with pytest.raises(ValidationFailed, match="a mobile or an e-mail column is required"):
        await jobs.import_file("customers", path)
    orders = write_csv(tmp_path / "o.csv", [["订单号", "手机", "实付金额", "渠道"], ["T1", "13812345678", "1", "天猫"]])
    with pytest.raises(ValidationFailed, match="an order time column is required"):
        await jobs.import_file("orders", orders)
    assert await ImportJob.count() == 0 and await Customer.count() == 0


async def test_the_mapping_can_be_given_for_headers_it_cannot_guess(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["客户", "号码", "备注"], ["张三", "13812345678", "VIP"]])
    with pytest.raises(ValidationFailed):
        await jobs.import_file("customers", path)
    job = await jobs.import_file("customers", path, {"号码": "mobile"})
    assert job["created"] == 1


class Killed(BaseException):
    """Stands in for the process dying: nothing catches it."""


async def test_an_interrupted_import_leaves_whole_batches_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_ROWS", 10)
    rows = order_rows(45, customers=45)
    rows[3][4] = "十块"  # a rejected row in the first batch
    rows[25][4] = "坏"  # and one in the third, the batch that dies after writing its rejects
    path = write_csv(tmp_path / "orders.csv", rows)
    real_write = runner.RejectsFile.write
    calls = {"n": 0}

    def dying_write(self, rejects):
        calls["n"] += 1
        size = real_write(self, rejects)
        if calls["n"] == 3:
            raise Killed()
        return size

    monkeypatch.setattr(runner.RejectsFile, "write", dying_write)
    with pytest.raises(Killed):
        await jobs.import_file("orders", path)
    job = await ImportJob.select().first()
    assert (job["status"], job["processed"], job["created"], job["rejected"]) == ("running", 20, 19, 1)
    assert await Order.count() == 19  # two whole batches, nothing of the third

    monkeypatch.setattr(runner.RejectsFile, "write", real_write)
    assert await jobs.claim_stale_jobs() == []  # its heartbeat is fresh: maybe still running elsewhere
    assert await jobs.claim_stale_jobs(dt.timedelta(0)) == [job["id"]]
    assert await jobs.claim_stale_jobs(dt.timedelta(0)) == [job["id"]]  # (claimed again: no run yet)
    done = await jobs.run_job(job["id"])
    assert done["status"] == "done" and counts(done) == {"created": 43, "updated": 0, "unchanged": 0, "rejected": 2}
    assert await Order.count() == 43
    lines = open(done["rejects_path"], encoding="utf-8-sig").read().splitlines()
    assert len(lines) == 3  # the header and each rejected row once

    rerun = await jobs.import_file("orders", path)
    assert counts(rerun) == {"created": 0, "updated": 0, "unchanged": 43, "rejected": 2}
    assert await Order.count() == 43


async def test_a_managers_import_gives_new_customers_their_team_and_skips_other_teams(tmp_path, make_user):
    from db.staff.tables import StaffUser

    manager_id = await make_user("li.manager", "manager", "华东门店组")
    await make_user("zhao.manager", "manager", "华南组")
    path = write_csv(tmp_path / "a.csv", [CUSTOMER_HEADERS, ["外队", "13900000000", "", "", "", "", "广州"]])
    await jobs.import_file("customers", path)
    south = (await StaffUser.select(StaffUser.team).where(StaffUser.username == "zhao.manager").first())["team"]
    await Customer.update({Customer.team: south}).where(Customer.mobile == "+8613900000000")

    path = write_csv(tmp_path / "b.csv", [CUSTOMER_HEADERS, ["新客", "13812345678", "", "", "", "", ""],
                                          ["外队", "13900000000", "", "", "", "", "深圳"]])
    job_id = await jobs.create_job("customers", path, "b.csv", manager_id)
    job = await jobs.get_job(job_id, manager_id, "manager")
    await jobs.save_mapping(job, job["mapping"])
    assert await jobs.start_job(job) and not await jobs.start_job(job)
    done = await jobs.run_job(job_id)
    assert counts(done) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    team = (await StaffUser.select(StaffUser.team).where(StaffUser.id == manager_id).first())["team"]
    new = await Customer.select(Customer.team, Customer.owner).where(Customer.name == "新客").first()
    assert new == {"team": team, "owner": None}
    assert (await Customer.select(Customer.city).where(Customer.name == "外队").first())["city"] == "广州"
    entry = await AuditEntry.select().where(AuditEntry.action == "import.run").order_by(AuditEntry.id, ascending=False).first()
    detail = entry["detail"] if isinstance(entry["detail"], dict) else json.loads(entry["detail"])
    assert entry["actor_id"] == manager_id and detail["created"] == 1 and detail["rejected"] == 1


async def test_custom_field_columns_are_imported(tmp_path):
    await create_field("skin_type", "肤质", "choice", ["干性", "油性"])
    await create_field("vip_since", "入会日期", "date", [])
    path = write_xlsx(tmp_path / "c.xlsx", [
        ["姓名", "手机号", "肤质", "入会日期"],
        ["张三", "13812345678", "干性", dt.datetime(2023, 1, 2)],
        ["李四", "13912345678", "中性", "2023/1/2"],
    ])
    job = await jobs.import_file("customers", path)
    assert counts(job) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    values = await CustomerFieldValue.select(CustomerFieldValue.value).order_by(CustomerFieldValue.field)
    assert [v["value"] for v in values] == ["干性", "2023-01-02"]
    again = await jobs.import_file("customers", path)
    assert counts(again) == {"created": 0, "updated": 0, "unchanged": 1, "rejected": 1}
    path = write_xlsx(tmp_path / "d.xlsx", [["姓名", "手机号", "肤质"], ["张三", "13812345678", "油性"]])
    assert counts(await jobs.import_file("customers", path))["updated"] == 1


async def test_an_email_that_belongs_to_someone_else_is_rejected(tmp_path):
    await jobs.import_file("customers", write_csv(tmp_path / "a.csv", [
        CUSTOMER_HEADERS, ["甲", "13812345678", "", "", "", "", ""], ["乙", "", "b@example.com", "", "", "", ""]]))
    job = await jobs.import_file("customers", write_csv(tmp_path / "b.csv", [
        CUSTOMER_HEADERS, ["甲", "13812345678", "b@example.com", "", "", "", ""]]))
    assert counts(job) == {"created": 0, "updated": 0, "unchanged": 0, "rejected": 1}
    assert "belongs to another customer" in open(job["rejects_path"], encoding="utf-8-sig").read()


async def test_samples_import_cleanly(tmp_path):
    from db.imports.samples import write_samples

    await create_field("skin_type", "肤质", "choice", ["干性", "油性", "混合"])
    customers, orders, gb = await write_samples(tmp_path)
    first = await jobs.import_file("customers", customers)
    assert first["created"] >= 60 and 3 <= first["rejected"] <= 5
    # the same people again; only the formula row is new: text in a CSV, a cell without a
    # saved value (so no name, rejected) in the .xlsx
    assert (await jobs.import_file("customers", gb))["created"] == 1
    done = await jobs.import_file("orders", orders)
    assert done["created"] > 50 and done["rejected"] == 2
    assert await CustomerFieldValue.count() > 0
    assert ORDER_HEADERS[0] == "订单号"
