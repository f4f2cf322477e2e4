"""A customer's fields as typed or sent: checked, one message per bad field."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from db.customers import identity
from db.customers.tables import GENDERS
from db.errors import ValidationFailed

GENDER_ALIASES = {
    "f": "female", "female": "female", "女": "female", "w": "female",
    "m": "male", "male": "male", "男": "male",
    "u": "unknown", "unknown": "unknown", "": "unknown", "未知": "unknown",
}
MAX_TAGS = 20


@dataclass
class CustomerInput:
    name: str
    mobile: str | None
    email: str | None
    gender: str = "unknown"
    birthday: dt.date | None = None
    province: str = ""
    city: str = ""
    tags: list[str] = field(default_factory=list)
    first_channel: str = ""
    provided: frozenset[str] = frozenset()


def text_field(data: dict, key: str, errors: dict, max_len: int, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[key] = "must be text"
        return ""
    value = value.strip()
    if required and not value:
        errors[key] = "required"
    elif len(value) > max_len:
        errors[key] = f"at most {max_len} characters"
    return value


def parse_customer(data: dict[str, Any], require_identity: bool = True) -> CustomerInput:
    """Validate customer fields, collecting one message per bad field."""
    errors: dict[str, str] = {}
    name = text_field(data, "name", errors, 100, required=True)
    mobile = email = None
    try:
        mobile = identity.normalise_mobile(text_field(data, "mobile", errors, 30))
    except identity.InvalidIdentity as exc:
        errors["mobile"] = str(exc)
    try:
        email = identity.normalise_email(text_field(data, "email", errors, 254))
    except identity.InvalidIdentity as exc:
        errors["email"] = str(exc)
    if require_identity and not mobile and not email and "mobile" not in errors and "email" not in errors:
        errors["mobile"] = "a mobile number or an e-mail address is required"
    gender_raw = text_field(data, "gender", errors, 10).lower()
    gender = GENDER_ALIASES.get(gender_raw)
    if gender is None:
        errors["gender"] = f"one of {', '.join(GENDERS)}"
    birthday = None
    birthday_raw = text_field(data, "birthday", errors, 10)
    if birthday_raw:
        try:
            birthday = dt.date.fromisoformat(birthday_raw)
            if birthday > dt.date.today() or birthday.year < 1900:
                errors["birthday"] = "not a plausible birthday"
        except ValueError:
            errors["birthday"] = "a date like 1990-05-17"
    province = text_field(data, "province", errors, 20)
    city = text_field(data, "city", errors, 40)
    tags_raw = data.get("tags") or []
    tags: list[str] = []
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        errors["tags"] = "a list of tag names"
    else:
        tags = list(dict.fromkeys(t.strip() for t in tags_raw if t.strip()))
        if len(tags) > MAX_TAGS or any(len(t) > 40 for t in tags):
            errors["tags"] = f"at most {MAX_TAGS} tags of up to 40 characters"
    if errors:
        raise ValidationFailed(errors)
    return CustomerInput(
        name=name, mobile=mobile, email=email, gender=gender or "unknown", birthday=birthday,
        province=province, city=city, tags=tags, provided=frozenset(data.keys()),
    )
