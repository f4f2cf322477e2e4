"""The range of days a figure or report covers, and the period before it.

Days are the shop's calendar days (CRM_TIMEZONE); both ends are included. Queries use
`bounds()`: the UTC instants [start, end) of those days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from db.clock import MAX_YEAR, MIN_YEAR, YEARS_MESSAGE, now
from db.errors import Message, ValidationFailed
from db.settings import get_settings

PRESETS = ("week", "month", "30d", "90d")  # this week, this month, last 30 / 90 days
MAX_DAYS = 366 * 20  # a range of ten years is fine; a range from 2000 to 2100 is a typo


def shop_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone or "Asia/Shanghai")


def shop_today() -> dt.date:
    return now().astimezone(shop_zone()).date()


@dataclass(frozen=True)
class Period:
    start: dt.date  # first day, included
    end: dt.date  # last day, included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        """The period of the same length that ends the day before this one starts."""
        end = self.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end)

    def bounds(self, zone: ZoneInfo | None = None) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware UTC datetimes: midnight of the first day to midnight after
        the last, in the shop's zone."""
        zone = zone or shop_zone()
        start = dt.datetime.combine(self.start, dt.time(), zone)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), zone)
        return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)

    def query(self) -> dict[str, str]:
        """The URL parameters that name this period (`from`, `to`)."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    @classmethod
    def preset(cls, name: str, today: dt.date | None = None) -> "Period":
        today = today or shop_today()
        if name == "week":
            return cls(today - dt.timedelta(days=today.weekday()), today)
        if name == "month":
            return cls(today.replace(day=1), today)
        if name == "90d":
            return cls(today - dt.timedelta(days=89), today)
        return cls(today - dt.timedelta(days=29), today)  # "30d", the default

    @classmethod
    def last_week(cls, today: dt.date | None = None) -> "Period":
        """Monday to Sunday of the week before this one (the weekly delivery's period)."""
        monday = (today or shop_today()) - dt.timedelta(days=(today or shop_today()).weekday())
        return cls(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))

    @classmethod
    def last_month(cls, today: dt.date | None = None) -> "Period":
        """The whole calendar month before this one (the monthly delivery's period)."""
        first = (today or shop_today()).replace(day=1)
        end = first - dt.timedelta(days=1)
        return cls(end.replace(day=1), end)

    @classmethod
    def parse(cls, start: str | None, end: str | None, *, default: str = "30d",
              today: dt.date | None = None) -> "Period":
        """From `from` / `to` as YYYY-MM-DD. Both missing: the default preset; one missing:
        that end of the default. Raises ValidationFailed with errors keyed "from" and "to"."""
        fallback = cls.preset(default, today)
        errors: dict[str, str] = {}
        first = _date(start, "from", errors) or fallback.start
        last = _date(end, "to", errors) or fallback.end
        if not errors and last < first:
            errors["to"] = Message("the end of the range is before its start")
        if not errors and (last - first).days + 1 > MAX_DAYS:
            errors["to"] = Message("a range of at most %(years)s years", years=MAX_DAYS // 366)
        if errors:
            raise ValidationFailed(errors)
        return cls(first, last)


def _date(text: str | None, key: str, errors: dict[str, str]) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or len(text) != 10:
        errors[key] = Message("a date as YYYY-MM-DD")
        return None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        errors[key] = Message(YEARS_MESSAGE)
        return None
    return value
