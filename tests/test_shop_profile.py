"""More → Shop profile: the name and logo (db/customers/shop_profile.py, /settings/shop)."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from markupsafe import escape
from PIL import Image

from db.actor import Actor
from db.audit.tables import AuditEntry
from db.customers import shop_profile as profile
from db.errors import ValidationFailed

ACTOR = Actor(1, "admin", "127.0.0.1")
NASTY = ('<script>alert(1)</script>', '<img src=x onerror=alert(1)>', 'url(file:///etc/passwd)')


def picture(fmt: str = "PNG", size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 60)).save(out, format=fmt)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its data does not hold (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


async def test_default_profile_is_the_product_name():
    current = await profile.shop_profile()
    assert (current.name, current.logo, current.logo_type, current.logo_data_uri) == ("Shop CRM", None, None, None)


@pytest.mark.parametrize("fmt, media", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
async def test_name_and_logo_are_saved_and_audited(fmt, media):
    data = picture(fmt)
    saved = await profile.save_shop_profile("  小鹿家居旗舰店 ", data, ACTOR)
    assert (saved.name, saved.logo_type, saved.logo) == ("小鹿家居旗舰店", media, data)
    assert saved.logo_data_uri.startswith(f"data:{media};base64,")
    again = await profile.shop_profile()
    assert again == saved
    entry = await AuditEntry.select().where(AuditEntry.action == "settings.shop_profile").first()
    assert entry["actor"] == "admin"
    detail = json.loads(entry["detail"]) if isinstance(entry["detail"], str) else entry["detail"]
    assert detail["changed"] == ["name", "logo"]
    assert detail["logo"] == {"type": media, "bytes": len(data)}


async def test_no_new_logo_keeps_the_old_one_and_remove_drops_it():
    data = picture()
    await profile.save_shop_profile("A shop", data, ACTOR)
    kept = await profile.save_shop_profile("Another name", None, ACTOR)
    assert (kept.name, kept.logo) == ("Another name", data)
    removed = await profile.save_shop_profile("Another name", None, ACTOR, remove_logo=True)
    assert (removed.logo, removed.logo_type, removed.logo_data_uri) == (None, None, None)


@pytest.mark.parametrize("data, message", [
    (b"GIF89a" + b"\0" * 40, "choose a PNG, JPEG or WebP picture"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "choose a PNG, JPEG or WebP picture"),
    (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4, "this picture cannot be read: save it again as PNG or JPEG"),
    (b"\xff\xd8\xff" + picture("PNG")[3:], "this picture cannot be read: save it again as PNG or JPEG"),
    (png_claiming(5000, 300), "the picture may be at most 4096 × 4096 pixels"),
    (png_claiming(40000, 40000), "this picture cannot be read: save it again as PNG or JPEG"),  # a bomb
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (profile.LOGO_MAX_BYTES + 1), "the picture may be at most 512 KB"),
    (b"", "choose a PNG, JPEG or WebP picture"),
])
async def test_a_logo_is_judged_by_its_content(data, message):
    await profile.save_shop_profile("Before", None, ACTOR)
    with pytest.raises(ValidationFailed) as caught:
        await profile.save_shop_profile("After", data, ACTOR)
    assert caught.value.errors == {"logo": message}
    assert (await profile.shop_profile()).name == "Before"  # nothing half-saved


def test_a_gif_renamed_to_png_is_refused_by_content():
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="GIF")
    with pytest.raises(ValidationFailed):
        profile.sniff_logo(out.getvalue())


@pytest.mark.parametrize("name, message", [("", "required"), ("   ", "required"), ("店" * 41, "at most 40 characters"),
                                           ("a\x00b", "must not contain control characters"),
                                           ("two\nlines", "must not contain control characters")])
async def test_bad_names_are_refused(name, message):
    with pytest.raises(ValidationFailed) as caught:
        await profile.save_shop_profile(name, None, ACTOR)
    assert caught.value.errors == {"name": message}


# ---------------------------------------------------------------- the page


async def test_staff_may_not_open_the_page(signed_in):
    staff = await signed_in("li.staff", "staff")
    assert (await staff.get("/settings/shop")).status_code == 403


@pytest.mark.parametrize("name", NASTY)
async def test_a_nasty_name_is_escaped_on_the_page_and_the_brand(signed_in_english, name):
    manager = await signed_in_english("zhao.manager", "manager")
    response = await manager.post("/settings/shop", data={"name": name, "_csrf_token": manager.csrf},
                                  files={"logo": ("", b"", "application/octet-stream")}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = await manager.get("/settings/shop?msg=saved")
    assert "Shop profile saved." in page.text
    for html in (page.text, (await manager.get("/more")).text):
        assert f'<span>{escape(name)}</span>' in html  # the brand
        if str(escape(name)) != name:
            assert name not in html  # never raw
        assert "file:///" not in html.split("<body")[0].replace(f"· {name}</title>", "")  # never in CSS
    assert f"<title>Shop profile · {escape(name)}</title>" in page.text


async def test_upload_a_logo_and_errors_next_to_the_field(signed_in_english):
    manager = await signed_in_english("zhao.manager", "manager")
    data = picture("PNG")
    ok = await manager.post("/settings/shop", data={"name": "Deer Home", "_csrf_token": manager.csrf},
                            files={"logo": ("logo.gif", data, "image/gif")}, follow_redirects=False)
    assert ok.status_code == 303  # judged by content, not by name or type the browser sends
    page = await manager.get("/settings/shop")
    assert 'src="data:image/png;base64,' in page.text and "Remove the logo" in page.text

    bad = await manager.post("/settings/shop", data={"name": "", "_csrf_token": manager.csrf},
                             files={"logo": ("logo.png", b"<script>alert(1)</script>", "image/png")})
    assert bad.status_code == 422
    assert 'id="f-name-error"' in bad.text and 'id="f-logo-error"' in bad.text
    assert "choose a PNG, JPEG or WebP picture" in bad.text
    assert (await profile.shop_profile()).name == "Deer Home"

    huge = await manager.post("/settings/shop", data={"name": "Deer Home", "_csrf_token": manager.csrf},
                              files={"logo": ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024),
                                              "image/png")})
    assert huge.status_code == 413
    assert "the picture may be at most 512 KB" in huge.text

    removed = await manager.post("/settings/shop", data={"name": "Deer Home", "remove_logo": "1",
                                                         "_csrf_token": manager.csrf},
                                 files={"logo": ("", b"", "application/octet-stream")}, follow_redirects=False)
    assert removed.status_code == 303
    assert (await profile.shop_profile()).logo is None


async def test_more_menu_links_the_page_for_managers_only(signed_in_english):
    manager = await signed_in_english("zhao.manager", "manager")
    assert 'href="/settings/shop"' in (await manager.get("/more")).text
    staff = await signed_in_english("li.staff", "staff")
    assert 'href="/settings/shop"' not in (await staff.get("/more")).text
