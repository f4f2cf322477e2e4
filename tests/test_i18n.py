"""Translations: the zh-CN catalogue is complete and well-formed, the catalogues match the
strings in the code, the messages domain code raises are translated, and the app speaks the
language the browser asks for (Simplified Chinese by default).

When a test here fails after you added or changed UI text, run `scripts/i18n.sh` and translate
the new entries in web/locale/zh_CN/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = ROOT / "web" / "locale"
POT = LOCALE_DIR / "messages.pot"
FIX = "Run scripts/i18n.sh, then translate the new entries in web/locale/zh_CN/LC_MESSAGES/messages.po."

# printf-style placeholders: %(name)s, %(n)d, %s, %.2f and the escaped %%
PLACEHOLDER = re.compile(r"%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _po(lang: str) -> Catalog:
    return _read(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", lang)


def _ids(catalog: Catalog) -> set[str]:
    """Message keys (the singular msgid; plural entries are keyed by their singular)."""
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}


def _strings(value) -> list[str]:
    if isinstance(value, (tuple, list)):
        return list(value)
    return [value or ""]


def _placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


def _show(items) -> str:
    return "\n".join(f"  {item!r}" for item in sorted(items))


# ---------------------------------------------------------------- catalogue quality


def test_every_zh_cn_entry_is_translated_and_none_is_fuzzy():
    catalog = _po("zh_CN")
    assert catalog.plural_forms.replace(" ", "") == "nplurals=1;plural=0;"
    untranslated = [m.id for m in catalog if m.id and not all(s.strip() for s in _strings(m.string))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"untranslated zh_CN entries:\n{_show(map(str, untranslated))}\n{FIX}"
    assert not fuzzy, f"fuzzy zh_CN entries (check them and drop the flag):\n{_show(map(str, fuzzy))}"
    assert len(catalog) > 100


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_placeholders_survive_translation(lang):
    bad = []
    for m in _po(lang):
        if not m.id:
            continue
        ids = _strings(m.id)
        for i, text in enumerate(_strings(m.string)):
            if not text:  # English may stay empty: the msgid is shown
                continue
            source = ids[min(i, len(ids) - 1)]  # zh_CN's one plural form follows the plural msgid
            # the same placeholders, and no stray "%": Jinja's newstyle gettext %-formats
            # every template string, so a lone "%" would break the page
            if _placeholders(text) != _placeholders(source) or text.count("%") != source.count("%"):
                bad.append((ids[0], text))
    assert not bad, "placeholders differ between msgid and msgstr:\n" + "\n".join(
        f"  {mid!r} -> {text!r}" for mid, text in bad
    )


def test_english_catalogue_has_the_same_entries():
    en, pot = _ids(_po("en")), _ids(_read(POT))
    assert en == pot, f"en catalogue differs from the .pot:\n{_show(en ^ pot)}\n{FIX}"


# ---------------------------------------------------------------- catalogues match the code


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
         "-k", "N_", "--no-location", "-o", str(out), "."],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return _ids(_read(out))


@pytest.mark.parametrize("path", ["messages.pot", "zh_CN/LC_MESSAGES/messages.po"])
def test_catalogues_are_up_to_date_with_the_sources(extracted, path):
    committed = _ids(_read(LOCALE_DIR / path))
    missing = extracted - committed
    stale = committed - extracted
    assert not missing, (
        f"{len(missing)} translatable string(s) in the code are missing from web/locale/{path}:\n"
        f"{_show(missing)}\n{FIX}"
    )
    assert not stale, (
        f"web/locale/{path} has string(s) the code no longer uses:\n{_show(stale)}\n{FIX}"
    )


def _domain_messages() -> set[str]:
    """Every message domain code can put in a ValidationFailed today, produced for real."""
    from db.customers import identity, profile, service, tags
    from db.customers.tables import GENDERS, INTERACTION_KINDS
    from db.orders import ingest
    from db.orders.tables import CHANNELS, STATUSES
    from db.staff import passwords
    from db.staff.tables import ROLES

    found: set[str] = set()

    def collect(fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except service.ValidationFailed as exc:
            found.update(exc.errors.values())
        except ValueError as exc:  # WeakPassword, InvalidIdentity and money/time parsing
            found.add(str(exc))

    # every max length the customer form checks (read from the calls, so new fields count too)
    trees = [ast.parse(Path(m.__file__).read_text(encoding="utf-8")) for m in (profile, service, tags)]
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "text_field":
            limit = node.args[3]
            assert isinstance(limit, ast.Constant), ast.unparse(node)
            errors: dict = {}
            profile.text_field({"k": "x" * (limit.value + 1)}, "k", errors, limit.value)
            found.update(errors.values())
    collect(profile.parse_customer, {"name": "", "gender": "x", "birthday": "1800-01-01",
                                     "tags": [f"t{i}" for i in range(profile.MAX_TAGS + 1)]})
    collect(profile.parse_customer, {"name": 1, "birthday": "someday", "tags": "vip"})
    collect(profile.parse_customer, {"name": "王芳"})
    for mobile in ("abc", "12345", "010 1234 5678"):
        collect(identity.normalise_mobile, mobile)
    collect(identity.normalise_email, "not-an-email")
    for amount in (1.5, "abc", "-1", "1.999", "1" * 20, None):
        collect(ingest.parse_money, amount)
    collect(ingest.parse_time, "")
    collect(ingest.parse_order, {"customer": None, "status": "x", "currency": "yuan",
                                 "items": [1, {"qty": 0}]})
    collect(ingest.parse_order, {"customer": {"name": 5}, "placed_at": "2999-01-01T00:00:00",
                                 "items": [{}] * (ingest.MAX_ITEMS + 1)})
    collect(passwords.check_new_password, "short")
    collect(passwords.check_new_password, "x" * (passwords.MAX_LENGTH + 1))
    collect(passwords.check_new_password, "password123")
    collect(passwords.check_new_password, "wang.fang.2024", "wang.fang.2024")
    # "one of …" lists and the rest that need a database to trigger
    for codes in (GENDERS, INTERACTION_KINDS, CHANNELS, STATUSES, ROLES):
        found.add(f"one of {', '.join(codes)}")
    found.update({"a customer with this already exists", "belongs to another customer",
                  "already taken", "wrong password", "wrong username or password",
                  "that code does not match; try the newest one", "wrong code",
                  "1 to 80 characters", "letters, digits, dot, dash or underscore; up to 64",
                  f"at most {2000} characters"})
    return found


def test_messages_from_domain_code_are_translated():
    """web/locale/domain_messages.py must list what db/ really raises (f-strings included)."""
    catalog = _po("zh_CN")
    produced = _domain_messages()
    assert len(produced) > 30
    missing = {m for m in produced if not (catalog.get(m) and catalog.get(m).string)}
    assert not missing, (
        "messages raised by db/ code that have no zh_CN translation:\n"
        f"{_show(missing)}\nList them with N_() in web/locale/domain_messages.py. {FIX}"
    )


def test_flash_messages_are_translated():
    from web.staff.account import MESSAGES

    catalog = _po("zh_CN")
    missing = {m for m in MESSAGES.values() if not (catalog.get(m) and catalog.get(m).string)}
    assert not missing, f"flash messages without a zh_CN translation:\n{_show(missing)}\n{FIX}"


# ---------------------------------------------------------------- through the app


@pytest.mark.parametrize(
    ("accept_language", "expected", "unexpected", "html_lang"),
    [
        ("en", "Sign in", "登录", "en"),
        ("en-US,en;q=0.9", "Sign in", "登录", "en"),
        ("zh-CN", "登录", "Sign in", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "登录", "Sign in", "zh-CN"),
        (None, "登录", "Sign in", "zh-CN"),
    ],
)
async def test_sign_in_page_speaks_the_browsers_language(client, accept_language, expected,
                                                         unexpected, html_lang):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = await client.get("/login", headers=headers)
    assert response.status_code == 200
    page = response.text
    assert f'<html lang="{html_lang}">' in page
    assert expected in page and unexpected not in page
    if html_lang == "zh-CN":
        assert "用户名" in page and "密码" in page and "Username" not in page


async def test_translated_domain_message_shows_next_to_the_field(signed_in):
    """A domain message ('required') comes back translated in the customer form."""
    from tests.conftest import CSRF_META

    me = await signed_in("li.na", "staff")
    token = CSRF_META.search((await me.get("/customers/new")).text).group(1)
    response = await me.post("/customers/new", data={"name": "", "mobile": "12",
                                                      "_csrf_token": token})
    assert response.status_code == 200
    assert "必填" in response.text and "手机号无效" in response.text
