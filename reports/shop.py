"""The shop's name and logo on every report page.

They come from db/customers/shop_profile.py (`shop_profile()`, the shop profile page) when it
is there; until then, and when it fails, "Shop CRM" and no logo."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

FALLBACK = "Shop CRM"


@dataclass(frozen=True)
class Shop:
    name: str
    logo: str | None = None  # a data: URI (the only kind of image a report loads)


async def shop() -> Shop:
    try:
        module = importlib.import_module("db.customers.shop_profile")
    except ImportError:
        return Shop(FALLBACK)
    profile = await module.shop_profile()
    # ShopProfile.logo is the image's bytes; logo_data_uri the checked data: URI for <img src>
    logo = getattr(profile, "logo_data_uri", None)
    if not (isinstance(logo, str) and logo.startswith("data:image/")):
        logo = None
    return Shop((getattr(profile, "name", "") or "").strip() or FALLBACK, logo)
