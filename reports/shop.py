"""The shop's name and logo on every report page.

They come from the shop profile (db/customers/shop_profile.py, More → Shop profile); without
a name, "Shop CRM"."""

from __future__ import annotations

from dataclasses import dataclass

from db.customers.shop_profile import shop_profile

FALLBACK = "Shop CRM"


@dataclass(frozen=True)
class Shop:
    name: str
    logo: str | None = None  # a data: URI (the only kind of image a report loads)


async def shop() -> Shop:
    profile = await shop_profile()
    logo = profile.logo_data_uri  # the checked image as a data: URI (all a report may load)
    if not (isinstance(logo, str) and logo.startswith("data:image/")):
        logo = None
    return Shop((profile.name or "").strip() or FALLBACK, logo)
