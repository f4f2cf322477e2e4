"""The shop's points rules (积分规则), kept as one JSON setting."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from db.audit.log import record
from db.clock import now
from db.customers.tables import ShopSetting
from db.engine import writing
from db.errors import ValidationFailed

KEY = "points"
EXPIRY_MODES = ("year_end_after", "months", "never")


@dataclass(frozen=True)
class PointsConfig:
    points_per_yuan: int = 1  # per whole yuan of a paid order's total, before the tier multiplier
    signup_bonus: int = 100
    birthday_bonus: int = 200
    expiry: str = "year_end_after"  # end of the year after earning | N months | never
    expiry_months: int = 24
    manager_above: int = 1000  # staff adjustments beyond +/- this need a manager
    auto_enroll: bool = False  # the first paid order makes the customer a member
    evaluate_on: str = "01-01"  # MM-DD: downgrades happen on this date each year
    grace_days: int = 30  # members about to drop a tier are told this many days before

    def expires_on(self, earned: dt.date) -> dt.date | None:
        if self.expiry == "never":
            return None
        if self.expiry == "months":
            month = earned.month - 1 + self.expiry_months
            return same_day(earned.year + month // 12, month % 12 + 1, earned.day)
        return dt.date(earned.year + 1, 12, 31)

    def next_evaluation(self, today: dt.date) -> dt.date:
        month, day = (int(part) for part in self.evaluate_on.split("-"))
        this_year = same_day(today.year, month, day)
        return this_year if this_year >= today else same_day(today.year + 1, month, day)


def same_day(year: int, month: int, day: int) -> dt.date:
    """That day of the month, or the month's last day (29 February in other years)."""
    while True:
        try:
            return dt.date(year, month, day)
        except ValueError:
            day -= 1


_cache: tuple[float, PointsConfig] | None = None
CACHE_S = 5.0  # every process re-reads within 5 s of a change elsewhere


async def load() -> PointsConfig:
    global _cache
    if _cache and time.monotonic() - _cache[0] < CACHE_S:
        return _cache[1]
    row = await ShopSetting.select(ShopSetting.value).where(ShopSetting.key == KEY).first()
    stored = json.loads(row["value"]) if row else {}
    known = {f.name for f in dataclasses.fields(PointsConfig)}
    cfg = PointsConfig(**{k: v for k, v in stored.items() if k in known})
    _cache = (time.monotonic(), cfg)
    return cfg


def forget() -> None:
    global _cache
    _cache = None


def _whole(form: dict, key: str, errors: dict, low: int, high: int) -> int:
    value = form.get(key, "")
    text = str(value).strip()
    try:
        if isinstance(value, bool) or not text.lstrip("-").isdigit():
            raise ValueError
        number = int(text)
        if not low <= number <= high:
            raise ValueError
    except ValueError:
        errors[key] = f"a whole number from {low} to {high}"
        return low
    return number


def parse(form: dict[str, Any]) -> PointsConfig:
    errors: dict[str, str] = {}
    expiry = form.get("expiry", "")
    if expiry not in EXPIRY_MODES:
        errors["expiry"] = "choose when points expire"
    evaluate_on = str(form.get("evaluate_on", "")).strip()
    try:
        month, day = (int(part) for part in evaluate_on.split("-"))
        dt.date(2024, month, day)
        evaluate_on = f"{month:02d}-{day:02d}"
    except ValueError:
        errors["evaluate_on"] = "a date as MM-DD, like 01-01"
    auto = form.get("auto_enroll")
    cfg = PointsConfig(
        points_per_yuan=_whole(form, "points_per_yuan", errors, 0, 1000),
        signup_bonus=_whole(form, "signup_bonus", errors, 0, 1_000_000),
        birthday_bonus=_whole(form, "birthday_bonus", errors, 0, 1_000_000),
        expiry=expiry if expiry in EXPIRY_MODES else "year_end_after",
        expiry_months=_whole(form, "expiry_months", errors, 1, 120) if expiry == "months"
        else PointsConfig.expiry_months,
        manager_above=_whole(form, "manager_above", errors, 0, 100_000_000),
        auto_enroll=auto in (True, "on", "1", "true", "yes"),
        evaluate_on=evaluate_on if "evaluate_on" not in errors else "01-01",
        grace_days=_whole(form, "grace_days", errors, 0, 180),
    )
    if errors:
        raise ValidationFailed(errors)
    return cfg


async def save(cfg: PointsConfig, actor) -> None:
    text = json.dumps(dataclasses.asdict(cfg))
    async with writing():
        if await ShopSetting.exists().where(ShopSetting.key == KEY):
            await ShopSetting.update({ShopSetting.value: text, ShopSetting.updated_at: now()}).where(
                ShopSetting.key == KEY
            )
        else:
            await ShopSetting.insert(ShopSetting(key=KEY, value=text, updated_at=now()))
        await record("points.settings", actor=actor.label, target_type="setting", target_id=None,
                     ip=actor.ip, detail=dataclasses.asdict(cfg))
    forget()
