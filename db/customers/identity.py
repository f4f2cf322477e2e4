"""How a person is recognised: a mobile number in E.164 and a lower-cased e-mail address."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

DEFAULT_REGION = "CN"


class InvalidIdentity(ValueError):
    """Raised with a message fit to show next to the field."""


def normalise_mobile(raw: str | None) -> str | None:
    """'138 1234 5678', '+86 138-1234-5678', '008613812345678' -> '+8613812345678'."""
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentity("not a valid mobile number")
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE,
                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidIdentity("not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str | None) -> str | None:
    if raw is None or not str(raw).strip():
        return None
    try:
        info = validate_email(str(raw).strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentity("not a valid e-mail address") from exc
    return info.normalized.lower()


def national_digits(mobile: str | None) -> str:
    """'+8613812345678' -> '13812345678' (what staff type when they search)."""
    if not mobile:
        return ""
    return mobile[3:] if mobile.startswith("+86") else mobile.lstrip("+")


def mask_mobile(mobile: str | None) -> str:
    """'+8613812345678' -> '138****5678'."""
    digits = national_digits(mobile)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def display_mobile(mobile: str | None) -> str:
    digits = national_digits(mobile)
    if len(digits) == 11:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return mobile or ""


def search_text(name: str, mobile: str | None, email: str | None) -> str:
    """The text the substring index covers: name, the mobile's digits and the e-mail."""
    return " ".join(part for part in (name.lower(), national_digits(mobile), email or "") if part)


_DIGITS = re.compile(r"\d")


def looks_like_digits(query: str) -> bool:
    return bool(query) and all(ch.isdigit() or ch in " -+" for ch in query) and bool(_DIGITS.search(query))
