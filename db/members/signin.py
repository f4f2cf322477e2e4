"""Member sign-in for the member page (/m/): one-time codes by SMS, support links, sessions.

A member proves a mobile number with a 6-digit code sent to it. Every rule holds across any
number of server processes because it lives in rows (member_sign_in_code, member_session, and
db/limits' limit_attempt for sends, failures and locks):
- a code lives 5 minutes, works once, and only its HMAC (keyed with the secret key) is kept;
- at most 5 codes per number per hour, 60 s between two, and 20 per address per hour;
- 5 wrong tries kill the code and lock the number for 15 minutes; an address gets 50;
- each limit is decided one request at a time per number and address (db/limits), so
  parallel guesses each count;
- nothing says whether a number is a member until its code was right;
- a number that is not a member gets a join token (10 minutes, once) to join with;
- `crm member login-link` makes a 15-minute single-use link for support staff;
- a session is a random token whose SHA-256 is stored, new at every sign-in, with idle and
  absolute expiry; it is a member's and never a staff member's (web/core/auth.py keeps them apart).
Writes that must count (a wrong try, a lock) commit before the error is raised.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from db.clock import now
from db import limits
from db.customers import identity
from db.engine import as_datetime, is_sqlite, raw, writing
from db.errors import NotFound, RateLimited, ValidationFailed
from db.members import sms
from db.settings import get_settings
from db.actor import Actor
from db.customers.profile import CustomerInput
from db.customers.service import customer_by_identity, upsert_customer
from db.members import membership

CODE_TTL = timedelta(minutes=5)
LINK_TTL = timedelta(minutes=15)
JOIN_TTL = timedelta(minutes=10)
CODES_PER_HOUR = 5
RESEND_AFTER = timedelta(seconds=60)
MAX_TRIES = 5
LOCK_FOR = timedelta(minutes=15)
ADDRESS_SENDS_PER_HOUR = 20
ADDRESS_FAILURES_PER_HOUR = 50
HOUR = timedelta(hours=1)
TOUCH_EVERY = timedelta(minutes=1)
KEEP_ROWS = timedelta(days=1)  # codes older than this are deleted


class SignInLimited(RateLimited):
    """A limit was reached. reason: "locked" (too many wrong codes), "cooldown" (a code was
    sent less than a minute ago), "hourly" (5 codes this hour), "address" (this network) or
    "busy" (too many sign-ins at this moment to wait for a turn)."""

    def __init__(self, reason: str, retry_after: int):
        super().__init__(max(1, retry_after))
        self.reason = reason


def _busy(retry_after: int) -> SignInLimited:
    return SignInLimited("busy", retry_after)


class WrongCode(ValidationFailed):
    """The code typed was not the one sent; `tries_left` before the number is locked."""

    def __init__(self, tries_left: int):
        super().__init__({"code": "wrong code"})
        self.tries_left = tries_left


class SmsNotSent(Exception):
    """The SMS gateway did not take the message; nothing was counted."""


@dataclass(frozen=True)
class CodeSent:
    mobile: str  # E.164
    expires_at: datetime
    resend_after: int  # seconds until another code may be asked for


@dataclass(frozen=True)
class Verified:
    mobile: str
    member_id: int | None  # None: not a member yet, join with join_token
    join_token: str | None = None
    is_customer: bool = False  # a customer with this number exists (no name needed to join)


@dataclass(frozen=True)
class MemberSession:
    id: int
    member_id: int
    member_no: str
    name: str
    csrf_token: str
    created_at: datetime


def _hmac(purpose: str, value: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"member-{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_mobile(raw_mobile: str | None) -> str:
    """An E.164 mobile number, or ValidationFailed({"mobile": …})."""
    try:
        mobile = identity.normalise_mobile((raw_mobile or "")[:30])
    except identity.InvalidIdentity as exc:
        raise ValidationFailed({"mobile": str(exc)}) from None
    if not mobile:
        raise ValidationFailed({"mobile": "required"})
    return mobile


def _wait(oldest: datetime, window: timedelta, stamp: datetime) -> int:
    return int((as_datetime(oldest) + window - stamp).total_seconds()) + 1


async def _lock_wait(mobile: str, stamp: datetime) -> int | None:
    locks = await limits.tally(f"lock:{mobile}", LOCK_FOR, stamp)
    return _wait(locks.newest, LOCK_FOR, stamp) if locks.newest else None


def _address_limited(retry_after: int) -> SignInLimited:
    return SignInLimited("address", retry_after)


async def member_id_for_mobile(mobile: str) -> int | None:
    rows = await raw("SELECT m.id FROM member m JOIN customer c ON c.id = m.customer "
                     "WHERE c.mobile = {}", mobile)
    return rows[0]["id"] if rows else None


def default_text(code: str) -> str:
    return f"Your member sign-in code is {code}. It works for 5 minutes. Never tell it to anyone."


# ---------------------------------------------------------------- codes


async def request_code(raw_mobile: str | None, ip: str,
                       compose: Callable[[str], str] = default_text) -> CodeSent:
    """Send a new code to this number (member or not: the answer is the same). Raises
    ValidationFailed for a bad number, SignInLimited, or SmsNotSent (nothing counted)."""
    mobile = parse_mobile(raw_mobile)
    stamp = now()
    code = f"{secrets.randbelow(1_000_000):06d}"
    address = f"send:{ip}"
    async with limits.deciding(address, f"mobile:{mobile}", busy=_busy):
        await limits.purge(stamp)
        await raw("DELETE FROM member_sign_in_code WHERE created_at < {}", stamp - KEEP_ROWS)
        if (wait := await _lock_wait(mobile, stamp)) is not None:
            raise SignInLimited("locked", wait)
        # Counted now; a limit reached below rolls it back with the rest of this transaction.
        event = await limits.take(address, HOUR, ADDRESS_SENDS_PER_HOUR, stamp, _address_limited)
        rows = await raw("SELECT count(*) AS n, min(created_at) AS oldest, max(created_at) AS newest "
                         "FROM member_sign_in_code WHERE mobile = {} AND kind = 'sms' "
                         "AND created_at > {}", mobile, stamp - HOUR)
        sent, first, last = rows[0]["n"], rows[0]["oldest"], rows[0]["newest"]
        if last and as_datetime(last) > stamp - RESEND_AFTER:
            raise SignInLimited("cooldown", _wait(last, RESEND_AFTER, stamp))
        if sent >= CODES_PER_HOUR:
            raise SignInLimited("hourly", _wait(first, HOUR, stamp))
        inserted = await raw(
            "INSERT INTO member_sign_in_code (kind, mobile, secret_hash, tries, created_at, "
            "expires_at, ip) VALUES ('sms', {}, {}, 0, {}, {}, {}) RETURNING id",
            mobile, _hmac("code", f"{mobile}:{code}"), stamp, stamp + CODE_TTL, ip[:64])
    code_id = inserted[0]["id"]
    try:
        await sms.send(mobile, compose(code))
    except sms.SmsFailed:
        async with writing():  # not counted: the member may ask again at once
            await raw("DELETE FROM member_sign_in_code WHERE id = {}", code_id)
            await limits.let_go([event])
        raise SmsNotSent() from None
    async with writing():  # the newest code is the one that works
        await raw("UPDATE member_sign_in_code SET used_at = {} WHERE mobile = {} AND kind = 'sms' "
                  "AND used_at IS NULL AND id < {}", stamp, mobile, code_id)
    return CodeSent(mobile, stamp + CODE_TTL, int(RESEND_AFTER.total_seconds()))


async def resend_wait(mobile: str) -> int:
    """Seconds until this number may ask for another code (0: now)."""
    stamp = now()
    rows = await raw("SELECT max(created_at) AS newest FROM member_sign_in_code WHERE mobile = {} "
                     "AND kind = 'sms' AND created_at > {}", mobile, stamp - RESEND_AFTER)
    return max(0, _wait(rows[0]["newest"], RESEND_AFTER, stamp)) if rows[0]["newest"] else 0


async def verify_code(raw_mobile: str | None, code: str | None, ip: str) -> Verified:
    """Check a code typed for this number. Right: the code is spent and the result says who
    the member is (or carries a join token). Wrong: ValidationFailed({"code": …}); the fifth
    wrong try kills the code and raises SignInLimited("locked")."""
    mobile = parse_mobile(raw_mobile)
    digits = "".join(ch for ch in (code or "")[:20] if ch.isdigit())
    stamp = now()
    address = f"fail:{ip}"
    outcome: Exception | None = None
    async with limits.deciding(address, f"mobile:{mobile}", busy=_busy):
        if (wait := await _lock_wait(mobile, stamp)) is not None:
            raise SignInLimited("locked", wait)
        await limits.check(address, HOUR, ADDRESS_FAILURES_PER_HOUR, stamp, _address_limited)
        # FOR UPDATE on PostgreSQL: parallel guesses at one code queue here, so each one
        # counts (under READ COMMITTED they would all read the same count of tries).
        lock = "" if is_sqlite() else " FOR UPDATE"
        rows = await raw("SELECT id, secret_hash, tries FROM member_sign_in_code WHERE mobile = {} "
                         "AND kind = 'sms' AND used_at IS NULL AND expires_at > {} "
                         f"ORDER BY id DESC LIMIT 1{lock}", mobile, stamp)
        if not rows:
            await limits.add(address, stamp)
            outcome = ValidationFailed({"code": "this code has expired; ask for a new one"})
        elif len(digits) != 6 or not hmac.compare_digest(
                rows[0]["secret_hash"], _hmac("code", f"{mobile}:{digits}")):
            tries = rows[0]["tries"] + 1
            await limits.add(address, stamp)
            if tries >= MAX_TRIES:
                await raw("UPDATE member_sign_in_code SET tries = {}, used_at = {} WHERE id = {}",
                          tries, stamp, rows[0]["id"])
                await limits.add(f"lock:{mobile}", stamp)
                outcome = SignInLimited("locked", int(LOCK_FOR.total_seconds()))
            else:
                await raw("UPDATE member_sign_in_code SET tries = {} WHERE id = {}",
                          tries, rows[0]["id"])
                outcome = WrongCode(MAX_TRIES - tries)
        else:
            spent = await raw("UPDATE member_sign_in_code SET used_at = {} WHERE id = {} "
                              "AND used_at IS NULL RETURNING id", stamp, rows[0]["id"])
            if not spent:  # another request used it a moment ago
                outcome = ValidationFailed({"code": "this code has expired; ask for a new one"})
    if outcome is not None:
        raise outcome
    member_id = await member_id_for_mobile(mobile)
    if member_id is not None:
        return Verified(mobile, member_id)
    customer = await raw("SELECT id FROM customer WHERE mobile = {}", mobile)
    token = secrets.token_urlsafe(24)
    async with writing():
        await raw("INSERT INTO member_sign_in_code (kind, mobile, secret_hash, tries, created_at, "
                  "expires_at, ip) VALUES ('join', {}, {}, 0, {}, {}, {})",
                  mobile, _hmac("join", token), stamp, stamp + JOIN_TTL, ip[:64])
    return Verified(mobile, None, token, bool(customer))


async def _live_token(kind: str, token: str | None, stamp: datetime) -> dict | None:
    if not token or len(token) > 100:
        return None
    rows = await raw("SELECT id, mobile, member FROM member_sign_in_code WHERE secret_hash = {} "
                     "AND kind = {} AND used_at IS NULL AND expires_at > {}",
                     _hmac(kind, token), kind, stamp)
    return rows[0] if rows else None


async def _spend_token(kind: str, token: str | None) -> dict:
    stamp = now()
    async with writing():
        row = await _live_token(kind, token, stamp)
        spent = row and await raw("UPDATE member_sign_in_code SET used_at = {} WHERE id = {} "
                                  "AND used_at IS NULL RETURNING id", stamp, row["id"])
    if not spent:
        raise NotFound()
    return row


async def join_mobile(token: str | None) -> tuple[str, bool] | None:
    """The number a live join token proved, and whether a customer has it; None if spent."""
    row = await _live_token("join", token, now())
    if row is None:
        return None
    customer = await raw("SELECT id FROM customer WHERE mobile = {}", row["mobile"])
    return row["mobile"], bool(customer)


async def join(token: str | None, name: str | None, ip: str,
               consents: dict[str, bool] | None = None) -> int:
    """Join as a member with a join token: the customer with that number, or a new one
    named `name` (required then). Returns the member id. NotFound when the token is spent."""
    name = (name or "").strip()
    if len(name) > 100:
        raise ValidationFailed({"name": "at most 100 characters"})
    pending = await _live_token("join", token, now())
    if pending is None:
        raise NotFound()
    existing = await customer_by_identity(pending["mobile"], None)
    if existing is None and not name:
        raise ValidationFailed({"name": "required"})
    actor = Actor(None, "member_page", ip)
    async with writing():
        row = await _spend_token("join", token)
        existing = await customer_by_identity(row["mobile"], None)
        if existing is not None:
            customer_id = existing["id"]
        else:
            customer_id, _ = await upsert_customer(
                CustomerInput(name=name, mobile=row["mobile"], email=None), actor)
        member = await membership.join(customer_id, "signup", actor, consents=consents)
    return member["id"]


# ---------------------------------------------------------------- support links


async def create_login_link(raw_mobile: str | None) -> tuple[str, int]:
    """A one-time sign-in token for this member's number (15 minutes): (token, member id).
    NotFound when the number is not a member's."""
    mobile = parse_mobile(raw_mobile)
    member_id = await member_id_for_mobile(mobile)
    if member_id is None:
        raise NotFound()
    token = secrets.token_urlsafe(32)
    stamp = now()
    async with writing():
        await raw("INSERT INTO member_sign_in_code (kind, mobile, secret_hash, member, tries, "
                  "created_at, expires_at, ip) VALUES ('link', {}, {}, {}, 0, {}, {}, '')",
                  mobile, _hmac("link", token), member_id, stamp, stamp + LINK_TTL)
    return token, member_id


async def link_is_live(token: str | None) -> bool:
    return await _live_token("link", token, now()) is not None


async def use_login_link(token: str | None) -> int:
    """Spend a support link; returns the member id. NotFound when spent or expired."""
    row = await _spend_token("link", token)
    return row["member"]


# ---------------------------------------------------------------- sessions


async def start_session(member_id: int, ip: str, user_agent: str) -> str:
    """A brand-new session (a new random id at every sign-in: no session fixation)."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    async with writing():
        await raw("INSERT INTO member_session (token_hash, member, csrf_token, created_at, "
                  "last_seen_at, ip, user_agent) VALUES ({}, {}, {}, {}, {}, {}, {})",
                  _sha256(token), member_id, secrets.token_urlsafe(32), stamp, stamp, ip[:64],
                  (user_agent or "")[:255])
    return token


async def end_session(token: str | None) -> None:
    if token and len(token) <= 100:
        async with writing():
            await raw("DELETE FROM member_session WHERE token_hash = {}", _sha256(token))


async def end_all_sessions(member_id: int) -> int:
    async with writing():
        rows = await raw("DELETE FROM member_session WHERE member = {} RETURNING id", member_id)
    return len(rows)


async def load_session(token: str | None, idle: timedelta, absolute: timedelta) -> MemberSession | None:
    """The live member session for a cookie token, or None (one query when nothing is due)."""
    if not token or len(token) > 100:
        return None
    rows = await raw(
        "SELECT s.id, s.member, s.csrf_token, s.created_at, s.last_seen_at, m.member_no, c.name "
        "FROM member_session s JOIN member m ON m.id = s.member "
        "JOIN customer c ON c.id = m.customer WHERE s.token_hash = {}", _sha256(token))
    if not rows:
        return None
    row = rows[0]
    stamp = now()
    created, seen = as_datetime(row["created_at"]), as_datetime(row["last_seen_at"])
    if stamp - seen > idle or stamp - created > absolute:
        async with writing():
            await raw("DELETE FROM member_session WHERE id = {}", row["id"])
        return None
    if stamp - seen > TOUCH_EVERY:
        async with writing():
            await raw("UPDATE member_session SET last_seen_at = {} WHERE id = {}", stamp, row["id"])
    return MemberSession(row["id"], row["member"], row["member_no"], row["name"],
                         row["csrf_token"], created)
