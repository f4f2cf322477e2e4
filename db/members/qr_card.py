"""The member card's QR payload: `CRMM:{member_no}:{sig}`, signed so a scanned card cannot be
made up from a guessed member number. sig = the first 10 characters of
base32(HMAC-SHA256(secret_key, member_no)). Staff scanners call read_card_payload."""

from __future__ import annotations

import base64
import hashlib
import hmac

from db.settings import get_settings

PREFIX = "CRMM"
SIG_LEN = 10
MAX_MEMBER_NO = 12  # member.member_no is a Varchar(12)


def _secret() -> bytes:
    return get_settings().secret_key.encode()


def _sig(member_no: str) -> str:
    digest = hmac.new(_secret(), member_no.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:SIG_LEN]


def card_payload(member_no: str) -> str:
    """What the member card's QR code holds."""
    return f"{PREFIX}:{member_no}:{_sig(member_no)}"


def read_card_payload(text: str | None) -> str | None:
    """The member number in a scanned card, or None when it is not one of our cards (wrong
    shape, or a signature that does not match). Whitespace around it is ignored."""
    if not isinstance(text, str):
        return None
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    member_no, sig = parts[1], parts[2]
    if not sig.isascii():
        return None
    if not member_no or len(member_no) > MAX_MEMBER_NO or not member_no.isascii():
        return None
    if not hmac.compare_digest(sig.upper(), _sig(member_no)):
        return None
    return member_no
