from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

# Shops' systems and spreadsheets write local time without an offset: read it as this.
SHOP_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(timezone.utc)


# Dates and times that systems and people send must fall in these years: 0001-01-01 in the
# shop's zone is before the first UTC instant Python can hold (an OverflowError), and a
# year like 2999 is a typo.
MIN_YEAR, MAX_YEAR = 2000, 2100
YEARS_MESSAGE = "a date between 2000 and 2100"


def plausible_year(value: date) -> bool:
    """A date or datetime (checked before any time-zone conversion) within MIN_YEAR..MAX_YEAR."""
    return MIN_YEAR <= value.year <= MAX_YEAR
