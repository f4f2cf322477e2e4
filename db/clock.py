from datetime import datetime, timezone
from zoneinfo import ZoneInfo

# Shops' systems and spreadsheets write local time without an offset: read it as this.
SHOP_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(timezone.utc)
