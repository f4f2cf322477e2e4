"""The shop's profile (店铺资料): its name and logo, on every page's brand and on every report.

Kept in ShopSetting (the database, so every process and machine sees one profile; no file on
disk): `shop_profile` holds {"name", "logo_type"} and `shop_logo` the logo's bytes in base64,
apart, so that reading the name (every page's brand) never reads the logo.

The logo is accepted by its content, never its file name: PNG, JPEG or WebP by their magic
bytes, then opened by Pillow (WeasyPrint's image library), which must agree on the format and
find a picture of at most 4096 × 4096; at most LOGO_MAX_BYTES. The name is plain text: it may
hold `<`, `&` or `url(`, and every template escapes it (autoescape), the PDF reports too.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import time
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from db.actor import Actor
from db.audit.log import record
from db.clock import now
from db.customers.tables import ShopSetting
from db.engine import writing
from db.errors import ValidationFailed
from db.text import has_control

PROFILE_KEY = "shop_profile"
LOGO_KEY = "shop_logo"
DEFAULT_NAME = "Shop CRM"
NAME_MAX = 40
LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 4096
LOGO_TYPES = ("image/png", "image/jpeg", "image/webp")
_PIL_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ShopProfile:
    name: str
    logo_type: str | None
    logo: bytes | None

    @property
    def logo_data_uri(self) -> str | None:
        """`data:image/png;base64,…` for an <img src> (pages and PDF reports alike), or None.
        Built only from a checked type and base64, so it is safe in an attribute."""
        if not self.logo or self.logo_type not in LOGO_TYPES:
            return None
        return f"data:{self.logo_type};base64,{base64.b64encode(self.logo).decode('ascii')}"


def sniff_logo(data: bytes) -> str:
    """The logo's media type from its content, or ValidationFailed on "logo"."""
    if not data:
        raise ValidationFailed({"logo": "choose a PNG, JPEG or WebP picture"})
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationFailed({"logo": "the picture may be at most 512 KB"})
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "image/jpeg"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "image/webp"
    else:
        raise ValidationFailed({"logo": "choose a PNG, JPEG or WebP picture"})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt, (width, height) = image.format, image.size
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise ValidationFailed({"logo": "this picture cannot be read: save it again as PNG or JPEG"})
    if _PIL_FORMATS.get(fmt or "") != kind:
        raise ValidationFailed({"logo": "choose a PNG, JPEG or WebP picture"})
    if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE or width < 1 or height < 1:
        raise ValidationFailed({"logo": "the picture may be at most 4096 × 4096 pixels"})
    return kind


def clean_name(name: object) -> str:
    text = str(name if isinstance(name, str) else "").strip()
    if not text:
        raise ValidationFailed({"name": "required"})
    if len(text) > NAME_MAX:
        raise ValidationFailed({"name": "at most 40 characters"})
    if has_control(text) or "\n" in text or "\t" in text:
        raise ValidationFailed({"name": "must not contain control characters"})
    return text


async def _stored(key: str) -> dict | str | None:
    row = await ShopSetting.select(ShopSetting.value).where(ShopSetting.key == key).first()
    return json.loads(row["value"]) if row else None


async def shop_profile() -> ShopProfile:
    """The profile as stored, or the default name without a logo."""
    stored = await _stored(PROFILE_KEY)
    stored = stored if isinstance(stored, dict) else {}
    logo = None
    logo_type = stored.get("logo_type") if stored.get("logo_type") in LOGO_TYPES else None
    if logo_type:
        encoded = await _stored(LOGO_KEY)
        try:
            logo = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else None
        except (binascii.Error, ValueError):
            logo = None
        logo_type = logo_type if logo else None
    return ShopProfile(name=stored.get("name") or DEFAULT_NAME, logo_type=logo_type, logo=logo)


async def _put(key: str, value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    if await ShopSetting.exists().where(ShopSetting.key == key):
        await ShopSetting.update({ShopSetting.value: text, ShopSetting.updated_at: now()}).where(
            ShopSetting.key == key)
    else:
        await ShopSetting.insert(ShopSetting(key=key, value=text, updated_at=now()))


async def save_shop_profile(name: object, logo: bytes | None, actor: Actor, *,
                            remove_logo: bool = False) -> ShopProfile:
    """Set the name, and the logo when one is given (None keeps the current one; remove_logo
    drops it). Checks everything before writing anything; audited with what changed, the new
    name (the shop's, not personal data) and the logo's type and size."""
    errors: dict[str, str] = {}
    try:
        text = clean_name(name)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        text = ""
    logo_type = None
    if logo is not None and not remove_logo:
        try:
            logo_type = sniff_logo(logo)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    before = await shop_profile()
    async with writing():
        if remove_logo:
            kept_type = None
        elif logo_type:
            kept_type = logo_type
            await _put(LOGO_KEY, base64.b64encode(logo).decode("ascii"))
        else:
            kept_type = before.logo_type
        await _put(PROFILE_KEY, {"name": text, "logo_type": kept_type})
        if remove_logo:
            await ShopSetting.delete().where(ShopSetting.key == LOGO_KEY)
        new_logo = None if remove_logo else (logo if logo_type else before.logo)
        changed = [f for f, was, new in (("name", before.name, text), ("logo", before.logo, new_logo))
                   if was != new]
        await record("settings.shop_profile", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="shop_setting",
                     detail={"changed": changed, "name": text,
                             "logo": {"type": logo_type, "bytes": len(logo)} if logo_type else
                             ("removed" if remove_logo else "kept")})
    forget()
    return await shop_profile()


# ---------------------------------------------------------------- the name on every page

_name: tuple[float, str] | None = None
NAME_CACHE_S = 5.0  # every process shows a new name within 5 s (the one that saved it: at once)


async def refresh_name() -> str:
    """The shop's name for the page's brand, read at most every NAME_CACHE_S per process (one
    small row: the logo is not read)."""
    global _name
    if _name and time.monotonic() - _name[0] < NAME_CACHE_S:
        return _name[1]
    stored = await _stored(PROFILE_KEY)
    name = (stored.get("name") if isinstance(stored, dict) else None) or DEFAULT_NAME
    _name = (time.monotonic(), name)
    return name


def cached_name() -> str:
    """The name last read in this process (templates call it; render is synchronous)."""
    return _name[1] if _name else DEFAULT_NAME


def forget() -> None:
    global _name
    _name = None
