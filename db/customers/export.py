"""Export a filtered customer list to CSV (UTF-8 with BOM, for Excel) or XLSX, page by page.

The list is the one `search.search_customers` gives for the same filters and scope, read
with its keyset cursor PAGE rows at a time, so memory stays flat at any size. The columns
have the Chinese headers the import guesses (姓名, 手机号, 邮箱 …, one column per custom field
label), so an export re-imports cleanly. Any text cell that a spreadsheet would run as a
formula (starting with = + - @, a tab or a carriage return) gets a leading apostrophe. One
audit entry "customer.export" records the format, the filters and the row count (no
personal values).
"""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from db.audit.log import record
from db.customers import fields as custom_fields
from db.customers import identity, search, service
from db.customers.scope import Scope
from db.customers.tables import LIFECYCLE_STAGES
from db.engine import as_date, as_datetime, raw, reading, writing
from db.errors import ValidationFailed
from db.money import format_fen
from db.spreadsheet import neutralise

FORMATS = ("csv", "xlsx")
PAGE = 500
HEADERS = ("姓名", "手机号", "邮箱", "性别", "生日", "省份", "城市", "地址", "标签", "生命周期",
           "订单数", "累计消费", "首单时间", "末单时间")
GENDERS_ZH = {"female": "女", "male": "男", "unknown": "未知"}
LIFECYCLE_ZH = {"prospect": "潜在", "new": "新客户", "active": "活跃", "dormant": "沉睡", "churned": "流失"}
XLSX_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ExportFilters:
    """The customer list's filters: passed through to search.search_customers."""

    q: str = ""
    tag_id: int | None = None
    lifecycle: str | None = None

    def detail(self) -> dict:
        """For the audit log: which filters, not personal values (a search may be a mobile)."""
        out: dict = {}
        if self.q:
            out["q"] = "digits" if identity.looks_like_digits(self.q) else "text"
        if self.tag_id:
            out["tag_id"] = self.tag_id
        if self.lifecycle:
            out["lifecycle"] = self.lifecycle
        return out


def parse_filters(q: str | None, tag: str | None, lifecycle: str | None) -> ExportFilters:
    errors = {}
    q = search.clean_query(q)
    tag_id = None
    if tag:
        if not str(tag).isdecimal() or len(str(tag)) > 11:
            errors["tag"] = "not a tag"
        else:
            tag_id = int(tag)
    if lifecycle and lifecycle not in LIFECYCLE_STAGES:
        errors["lifecycle"] = f"one of {', '.join(LIFECYCLE_STAGES)}"
    elif lifecycle and not lifecycle_filter_available():
        errors["lifecycle"] = "not a filter of the customer list yet"
    if errors:
        raise ValidationFailed(errors)
    return ExportFilters(q, tag_id, lifecycle or None)


def export_mobile(mobile: str | None) -> str:
    """National digits for mainland numbers (what the import reads back); 00 + digits for
    others, so no cell starts with '+'."""
    if not mobile:
        return ""
    if mobile.startswith("+86"):
        return mobile[3:]
    return "00" + mobile.lstrip("+")


def lifecycle_filter_available() -> bool:
    """Whether the customer list filters by lifecycle stage (search_customers(lifecycle=))."""
    return "lifecycle" in inspect.signature(search.search_customers).parameters


def _search_kwargs(filters: ExportFilters) -> dict:
    kwargs = {"q": filters.q, "tag_id": filters.tag_id}
    if filters.lifecycle:  # parse_filters has checked the list accepts it
        kwargs["lifecycle"] = filters.lifecycle
    return kwargs






async def _details(ids: list[int]) -> tuple[list[dict], dict, dict]:
    marks = ", ".join("{}" for _ in ids)
    rows = await raw(
        "SELECT id, name, mobile, email, gender, birthday, province, city, address, "
        "lifecycle_stage, orders_count, total_spent_fen, first_order_at, last_order_at "
        f"FROM customer WHERE id IN ({marks})", *ids,
    )
    by_id = {r["id"]: r for r in rows}
    tags = await service.tags_for(ids)
    values = await custom_fields.values_for(ids)
    return [by_id[i] for i in ids if i in by_id], tags, values


async def export_rows(
    scope: Scope, filters: ExportFilters, tz: ZoneInfo, typed: bool = False
) -> AsyncIterator[list]:
    """The header row, then one row per customer in the list's order (newest first).

    typed: dates, times and amounts as Python values (for XLSX cells), else text (CSV)."""
    async with reading():
        defined = await custom_fields.list_fields()
    yield [neutralise(h) for h in (*HEADERS, *(f["label"] for f in defined))]
    kwargs = _search_kwargs(filters)
    cursor = None
    while True:
        page, cursor = await search.search_customers(scope, before_id=cursor, limit=PAGE, **kwargs)
        if not page:
            break
        async with reading():
            rows, tags, values = await _details([r["id"] for r in page])
        for row in rows:
            yield [neutralise(v) for v in _cells(row, tags, values, defined, tz, typed)]
        if cursor is None:
            break


def _cells(row, tags, values, defined, tz, typed) -> list:
    birthday = as_date(row["birthday"])
    first, last = as_datetime(row["first_order_at"]), as_datetime(row["last_order_at"])

    def when(value):
        if value is None:
            return None if typed else ""
        local = value.astimezone(tz).replace(tzinfo=None, microsecond=0)
        return local if typed else local.strftime("%Y-%m-%d %H:%M")

    spent = row["total_spent_fen"] or 0
    own = values.get(row["id"], {})
    return [
        row["name"],
        export_mobile(row["mobile"]),
        row["email"] or "",
        GENDERS_ZH.get(row["gender"], ""),
        (birthday if typed else birthday.isoformat()) if birthday else ("" if not typed else None),
        row["province"] or "",
        row["city"] or "",
        row["address"] or "",
        ",".join(t["name"] for t in tags.get(row["id"], [])),
        LIFECYCLE_ZH.get(row["lifecycle_stage"], row["lifecycle_stage"] or ""),
        row["orders_count"] or 0,
        Decimal(format_fen(spent)) if typed else format_fen(spent),
        when(first),
        when(last),
        *(own.get(f["key"], "") for f in defined),
    ]


async def _audit(actor, fmt: str, filters: ExportFilters, rows: int, complete: bool) -> None:
    detail = {"format": fmt, "filters": filters.detail(), "rows": rows}
    if not complete:
        detail["complete"] = False
    async with writing():
        await record("customer.export", actor_id=actor.id, actor=actor.label,
                     target_type="customer", ip=actor.ip, detail=detail)


async def export_csv(scope: Scope, filters: ExportFilters, actor, tz: ZoneInfo) -> AsyncIterator[bytes]:
    """CSV bytes in chunks: a BOM, the header, then a chunk per page of customers."""
    count, done = -1, False
    try:
        yield "\ufeff".encode()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        async for cells in export_rows(scope, filters, tz):
            writer.writerow(cells)
            count += 1
            if buffer.tell() > 32 * 1024:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode("utf-8")
        done = True
    finally:
        await _audit(actor, "csv", filters, max(count, 0), done)


async def export_xlsx(scope: Scope, filters: ExportFilters, actor, tz: ZoneInfo) -> AsyncIterator[bytes]:
    """XLSX bytes: rows go into a write-only workbook (openpyxl keeps them in a temporary
    file, not in memory), which is then sent in chunks and deleted."""
    from openpyxl import Workbook

    count, done = -1, False
    handle, path = tempfile.mkstemp(prefix="crm-export-", suffix=".xlsx")
    os.close(handle)
    try:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("客户")
        batch: list[list] = []
        async for cells in export_rows(scope, filters, tz, typed=True):
            batch.append(cells)
            count += 1
            if len(batch) >= PAGE:
                await asyncio.to_thread(_append, sheet, batch)
                batch = []
        await asyncio.to_thread(_append, sheet, batch)
        await asyncio.to_thread(workbook.save, path)
        with open(path, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, XLSX_CHUNK):
                yield chunk
        done = True
    finally:
        os.unlink(path)
        await _audit(actor, "xlsx", filters, max(count, 0), done)


def _append(sheet, rows: list[list]) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # control characters XLSX cannot hold

    for cells in rows:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", c) if isinstance(c, str) else c for c in cells])
