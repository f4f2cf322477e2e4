"""Cell values from shops' spreadsheets turned into what the CRM stores.

Every parser takes what a CSV or XLSX cell holds (text, a number, a datetime from a real
date cell) and returns the clean value or raises ValueError with a plain English message fit
for the rejected-rows file. Nothing here is ever evaluated: a formula (=HYPERLINK(...)) is
just text, and fails or passes validation as text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from functools import lru_cache

from db.customers import identity
from db.clock import SHOP_TZ
from db.money import parse_money
from db.orders.tables import CHANNELS, STATUSES

EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # Excel's day 0 (with the 1900 leap-year bug folded in)

CHANNEL_ALIASES = {
    "天猫": "tmall", "淘宝": "tmall", "taobao": "tmall", "tmall": "tmall",
    "京东": "jd", "jd": "jd", "jingdong": "jd",
    "抖音": "douyin", "抖店": "douyin", "douyin": "douyin", "tiktok": "douyin",
    "拼多多": "pdd", "pdd": "pdd", "pinduoduo": "pdd",
    "官网": "web", "商城": "web", "小程序": "web", "web": "web", "website": "web",
    "门店": "store", "线下": "store", "store": "store", "offline": "store",
}
STATUS_ALIASES = {
    "已付款": "paid", "已支付": "paid", "已完成": "paid", "交易成功": "paid", "paid": "paid",
    "已退款": "refunded", "退款": "refunded", "退款成功": "refunded", "refunded": "refunded",
    "已取消": "cancelled", "取消": "cancelled", "交易关闭": "cancelled", "cancelled": "cancelled",
    "canceled": "cancelled",
}
GENDER_ALIASES = {
    "男": "male", "男性": "male", "先生": "male", "m": "male", "male": "male",
    "女": "female", "女性": "female", "女士": "female", "f": "female", "female": "female",
    "未知": "unknown", "保密": "unknown", "u": "unknown", "unknown": "unknown",
}

_DATE_PATTERNS = [
    # 2024/3/5, 2024-03-05, 2024.3.5, 2024年3月5日, optionally followed by a time
    re.compile(
        r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
        r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?$"
    ),
    # 20240305, 20240305 1430, 20240305143000
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\s*(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?$"),
]
_SERIAL = re.compile(r"^\d{4,5}(?:\.\d+)?$")


def cell_text(value) -> str:
    """Any cell as the text a person sees: 13812345678.0 (a number cell) -> '13812345678'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _from_serial(number: float) -> dt.datetime:
    if not 1 <= number < 2958466:  # 1900-01-01 .. 9999-12-31
        raise ValueError("not a date")
    return EXCEL_EPOCH + dt.timedelta(days=number)


def _naive_datetime(value) -> tuple[dt.datetime, bool]:
    """(datetime, had a time part). Raises ValueError for anything that is not a date."""
    if isinstance(value, dt.datetime):
        return value, True
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day), False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 19000101 <= value <= 99991231 and float(value).is_integer():
            return _naive_datetime(str(int(value)))
        parsed = _from_serial(float(value))
        return parsed, not float(value).is_integer()
    text = cell_text(value)
    if not text:
        raise ValueError("empty")
    text = text.replace("：", ":")
    for pattern in _DATE_PATTERNS:
        found = pattern.match(text)
        if found:
            parts = found.groupdict()
            try:
                parsed = dt.datetime(
                    int(parts["y"]), int(parts["m"]), int(parts["d"]),
                    int(parts["H"] or 0), int(parts["M"] or 0), int(parts["S"] or 0),
                )
            except ValueError as exc:
                raise ValueError("not a real date") from exc
            return parsed, parts["H"] is not None
    if _SERIAL.match(text):
        number = float(text)
        return _from_serial(number), not number.is_integer()
    try:  # ISO 8601 with an offset, as systems export it
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not a date like 2024-03-05") from None
    return parsed, True


def parse_date(value) -> dt.date | None:
    """A birthday: 2024/3/5, 2024-03-05, 20240305, an Excel serial or a date cell. '' -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        parsed, _ = _naive_datetime(value)
    except ValueError as exc:
        raise ValueError("not a date like 1990-05-17") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(SHOP_TZ)
    return parsed.date()


def parse_datetime(value) -> dt.datetime:
    """An order time in UTC; times without an offset are the shop's (Asia/Shanghai)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("required")
    try:
        parsed, _ = _naive_datetime(value)
    except ValueError as exc:
        raise ValueError("not a time like 2024-03-05 14:30") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHOP_TZ)
    return parsed.astimezone(dt.timezone.utc)


def parse_amount(value) -> int:
    """'¥1,299.00', '￥199', '1299元' and number cells -> fen (via db.money.parse_money)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("required")
    if isinstance(value, bool):
        raise ValueError("not an amount")
    if isinstance(value, float):  # a number cell: 1299.5, or 1299.4999999999998 from a sum
        exact = Decimal(repr(value))
        cents = exact.quantize(Decimal("0.01"))
        value = format(cents if abs(exact - cents) < Decimal("0.000001") else exact, "f")
    text = cell_text(value).replace("元", "").replace("RMB", "").replace("CNY", "").replace(" ", "")
    return parse_money(text)


def parse_gender(value) -> str | None:
    text = cell_text(value).lower()
    if not text:
        return None
    gender = GENDER_ALIASES.get(text)
    if gender is None:
        raise ValueError("男 or 女 (male or female)")
    return gender


def parse_channel(value) -> str | None:
    text = cell_text(value)
    if not text:
        return None
    channel = CHANNEL_ALIASES.get(text.lower())
    if channel is None:
        for alias, code in CHANNEL_ALIASES.items():  # '天猫旗舰店', '京东自营'
            if len(alias) > 1 and not alias.isascii() and alias in text:
                channel = code
                break
    if channel is None or channel not in CHANNELS:
        raise ValueError(f"one of {', '.join(CHANNELS)}")
    return channel


def parse_status(value) -> str | None:
    text = cell_text(value).lower()
    if not text:
        return None
    status = STATUS_ALIASES.get(text)
    if status is None or status not in STATUSES:
        raise ValueError(f"one of {', '.join(STATUSES)}")
    return status


@lru_cache(maxsize=200_000)
def _mobile(text: str) -> str | None:
    return identity.normalise_mobile(text)


def parse_mobile(value) -> str | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        return _mobile(text)
    except identity.InvalidIdentity as exc:
        raise ValueError(str(exc)) from None


@lru_cache(maxsize=200_000)
def _email(text: str) -> str | None:
    return identity.normalise_email(text)


def parse_email(value) -> str | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        return _email(text)
    except identity.InvalidIdentity as exc:
        raise ValueError(str(exc)) from None


def parse_text(value, max_len: int) -> str:
    text = cell_text(value)
    if len(text) > max_len:
        raise ValueError(f"at most {max_len} characters")
    return text


# ---------------------------------------------------------------- rows kept on the job

_TAGS = (("datetime", dt.datetime), ("date", dt.date), ("time", dt.time))


def _tagged(value):
    for tag, kind in _TAGS:  # datetime first: a datetime is also a date
        if isinstance(value, kind):
            return {tag: value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"seconds": value.total_seconds()}
    raise TypeError(f"cannot store a {type(value).__name__} cell")


def dump_cells(rows: list[list]) -> str:
    """Rows of cells as JSON: text, numbers, booleans and None as they are; datetimes, dates,
    times and durations tagged ({"date": "1990-05-17"}), so load_cells gives them back."""
    return json.dumps(rows, ensure_ascii=False, default=_tagged)


def _untag(obj: dict):
    if len(obj) == 1:
        (tag, text), = obj.items()
        if tag == "datetime":
            return dt.datetime.fromisoformat(text)
        if tag == "date":
            return dt.date.fromisoformat(text)
        if tag == "time":
            return dt.time.fromisoformat(text)
        if tag == "seconds":
            return dt.timedelta(seconds=text)
    return obj


def load_cells(text: str) -> list[list]:
    return json.loads(text, object_hook=_untag)
