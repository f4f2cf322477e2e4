"""Staff accounts, sign-in, sessions, two-factor and API keys: the rules live here.

Sessions are rows, so they work across any number of server processes and can be ended
from anywhere (sign-out, password change, deactivation). The browser holds a random token;
the table holds its SHA-256, so a leaked database does not hand out live sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from email_validator import EmailNotValidError, validate_email

from db import limits
from db.clock import now
from db.engine import as_datetime, raw, writing
from db.errors import Forbidden, NotFound, ValidationFailed
from db.staff import passwords
from db.staff.tables import ROLES, ApiKey, StaffSession, StaffUser, Team

# Failed sign-ins allowed per window before the account or address is held back.
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
LIMIT_WINDOW = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)
TOTP_ISSUER = "Shop CRM"


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in staff member. Data scopes are derived from it."""

    id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    locale: str | None
    timezone: str | None
    totp_enabled: bool


@dataclass(frozen=True)
class ActiveSession:
    id: int
    user: Principal
    csrf_token: str
    pending: str
    created_at: datetime


def _principal(row: dict, prefix: str = "") -> Principal:
    return Principal(
        id=row[f"{prefix}id"],
        username=row[f"{prefix}username"],
        display_name=row[f"{prefix}display_name"],
        role=row[f"{prefix}role"],
        team_id=row[f"{prefix}team"],
        locale=row[f"{prefix}locale"],
        timezone=row[f"{prefix}timezone"],
        totp_enabled=row[f"{prefix}totp_enabled"],
    )


# ---------------------------------------------------------------- users and teams


async def list_teams() -> list[dict]:
    """Every team (id, name), by name: the filters that narrow figures or a scheduled report
    to one team (a shop has a handful)."""
    return await Team.select(Team.id, Team.name).order_by(Team.name).limit(500)


async def ensure_team(name: str) -> int:
    async with writing():
        row = await Team.select(Team.id).where(Team.name == name).first()
        if row:
            return row["id"]
        created = await Team.insert(Team(name=name, created_at=now())).returning(Team.id)
        return created[0]["id"]


async def create_user(
    username: str,
    password: str,
    role: str,
    team: str | None = None,
    display_name: str | None = None,
) -> int:
    username = (username or "").strip().lower()
    errors: dict[str, str] = {}
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        errors["username"] = "letters, digits, dot, dash or underscore; up to 64"
    if role not in ROLES:
        errors["role"] = f"one of {', '.join(ROLES)}"
    try:
        passwords.check_new_password(password, username)
    except passwords.WeakPassword as exc:
        errors["password"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    team_id = await ensure_team(team) if team else None
    async with writing():
        if await StaffUser.exists().where(StaffUser.username == username):
            raise ValidationFailed({"username": "already taken"})
        stamp = now()
        rows = await StaffUser.insert(
            StaffUser(
                username=username,
                display_name=display_name or username,
                password_hash=passwords.hash_password(password),
                role=role,
                team=team_id,
                password_changed_at=stamp,
                created_at=stamp,
            )
        ).returning(StaffUser.id)
    return rows[0]["id"]


async def set_password(user_id: int, new_password: str) -> None:
    """Change a password and end every session of that user."""
    user = await StaffUser.select(StaffUser.username).where(StaffUser.id == user_id).first()
    if not user:
        raise NotFound()
    try:
        passwords.check_new_password(new_password, user["username"])
    except passwords.WeakPassword as exc:
        raise ValidationFailed({"new_password": str(exc)}) from exc
    async with writing():
        await StaffUser.update(
            {
                StaffUser.password_hash: passwords.hash_password(new_password),
                StaffUser.password_changed_at: now(),
            }
        ).where(StaffUser.id == user_id)
        await StaffSession.delete().where(StaffSession.user == user_id)


async def change_password(user_id: int, current: str, new_password: str) -> None:
    row = await StaffUser.select(StaffUser.password_hash).where(StaffUser.id == user_id).first()
    if not row or not passwords.verify_password(row["password_hash"], current):
        raise ValidationFailed({"current_password": "wrong password"})
    await set_password(user_id, new_password)


async def set_active(user_id: int, active: bool) -> None:
    async with writing():
        await StaffUser.update({StaffUser.is_active: active}).where(StaffUser.id == user_id)
        if not active:
            await StaffSession.delete().where(StaffSession.user == user_id)


async def set_locale(user_id: int, locale: str | None) -> None:
    async with writing():
        await StaffUser.update({StaffUser.locale: locale}).where(StaffUser.id == user_id)


async def set_timezone(user_id: int, zone: str | None) -> None:
    async with writing():
        await StaffUser.update({StaffUser.timezone: zone}).where(StaffUser.id == user_id)


def clean_email(address: str | None) -> str | None:
    """A staff member's e-mail address checked (None when blank), or ValidationFailed."""
    text = (address or "").strip()
    if not text:
        return None
    if len(text) > 254:
        raise ValidationFailed({"email": "at most 254 characters"})
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationFailed({"email": "not a valid e-mail address"}) from None


async def email_of(user_id: int) -> str | None:
    row = await StaffUser.select(StaffUser.email).where(StaffUser.id == user_id).first()
    return row["email"] if row else None


async def set_email(user_id: int, address: str | None) -> None:
    """Where scheduled reports reach this person (blank: none)."""
    email = clean_email(address)
    async with writing():
        await StaffUser.update({StaffUser.email: email}).where(StaffUser.id == user_id)


async def deactivate_by_username(username: str) -> None:
    row = await StaffUser.select(StaffUser.id).where(
        StaffUser.username == (username or "").strip().lower()
    ).first()
    if not row:
        raise NotFound()
    await set_active(row["id"], False)


# ---------------------------------------------------------------- sign-in


async def _take_attempt(limit_keys: list[tuple[str, int]]) -> list[int]:
    """Count one attempt against each (key, limit) before anything is checked, or raise
    RateLimited when a limit is reached. Returns the attempts, to be let go on success.
    One decision at a time per key (db.limits), so parallel guesses cannot all pass."""
    stamp = now()
    keys = [key for key, _ in limit_keys]
    async with limits.deciding(*keys):  # a limit reached rolls back the attempts taken
        ids = [await limits.take(key, LIMIT_WINDOW, limit, stamp) for key, limit in limit_keys]
        await limits.purge(stamp)
    return ids


async def _let_go(attempts: list[int], reset_key: str) -> None:
    """A right answer: its own attempts do not count, and the account's count starts again."""
    await limits.let_go(attempts, [reset_key])


async def authenticate(username: str, password: str, ip: str) -> Principal:
    """Check a password, rate-limited per account and per address.

    The attempt is counted before the password is checked (RateLimited when either limit is
    reached), and ValidationFailed answers a wrong username or password (one message for both).
    """
    username = (username or "").strip().lower()[:64]
    account_key, address_key = f"user:{username}", f"ip:{ip}"
    attempts = await _take_attempt([(account_key, ACCOUNT_LIMIT), (address_key, ADDRESS_LIMIT)])
    row = await StaffUser.select().where(StaffUser.username == username).first()
    ok = passwords.verify_password(row["password_hash"] if row else passwords.dummy_hash(), password)
    if not (row and ok and row["is_active"]):
        raise ValidationFailed({"password": "wrong username or password"})
    if passwords.needs_rehash(row["password_hash"]):
        async with writing():
            await StaffUser.update(
                {StaffUser.password_hash: passwords.hash_password(password)}
            ).where(StaffUser.id == row["id"])
    await _let_go(attempts, account_key)
    return _principal(row)


def second_step(user: Principal, admin_2fa: str) -> str:
    """What a user must still do after the password: '', 'verify' or 'setup'."""
    if user.totp_enabled:
        return "verify"
    if user.role == "admin" and admin_2fa == "required":
        return "setup"
    return ""


# ---------------------------------------------------------------- sessions


async def start_session(user_id: int, pending: str, ip: str, user_agent: str) -> str:
    """A brand-new session (never a reused id: that would allow session fixation)."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    async with writing():
        await StaffSession.insert(
            StaffSession(
                token_hash=_sha256(token),
                user=user_id,
                csrf_token=secrets.token_urlsafe(32),
                pending=pending,
                created_at=stamp,
                last_seen_at=stamp,
                ip=ip[:64],
                user_agent=(user_agent or "")[:255],
            )
        )
    return token


async def end_session(token: str) -> None:
    async with writing():
        await StaffSession.delete().where(StaffSession.token_hash == _sha256(token))


_SESSION_SQL = (
    'SELECT s.id, s.csrf_token, s.pending, s.created_at, s.last_seen_at, u.id AS "user.id", '
    'u.username AS "user.username", u.display_name AS "user.display_name", u.role AS "user.role", '
    'u.team AS "user.team", u.locale AS "user.locale", u.timezone AS "user.timezone", '
    'u.totp_enabled AS "user.totp_enabled", u.is_active AS "user.is_active" '
    'FROM staff_session s JOIN staff_user u ON u.id = s."user" WHERE s.token_hash = {}')


async def load_session(token: str, idle: timedelta, absolute: timedelta) -> ActiveSession | None:
    """The live session for a cookie token, or None. Expired sessions are deleted."""
    if not token or len(token) > 100:
        return None
    # Raw SQL: this runs on every request, and Piccolo's joined select cost 0.7 ms to build
    # and convert (the statement itself is an index lookup of 0.02 ms).
    rows = await raw(_SESSION_SQL, _sha256(token))
    if not rows:
        return None
    row = rows[0]
    row["created_at"] = as_datetime(row["created_at"])
    row["last_seen_at"] = as_datetime(row["last_seen_at"])
    row["user.totp_enabled"] = bool(row["user.totp_enabled"])
    stamp = now()
    expired = stamp - row["last_seen_at"] > idle or stamp - row["created_at"] > absolute
    if expired or not row["user.is_active"]:
        async with writing():
            await StaffSession.delete().where(StaffSession.id == row["id"])
        return None
    if stamp - row["last_seen_at"] > TOUCH_EVERY:
        async with writing():
            await StaffSession.update({StaffSession.last_seen_at: stamp}).where(
                StaffSession.id == row["id"]
            )
    return ActiveSession(
        id=row["id"],
        user=_principal(row, "user."),
        csrf_token=row["csrf_token"],
        pending=row["pending"],
        created_at=row["created_at"],
    )


async def rotate_session(old_token: str, pending: str, ip: str, user_agent: str) -> str:
    """Replace a half-signed-in session with a fresh one once the second step is done."""
    row = await StaffSession.select(StaffSession.user).where(
        StaffSession.token_hash == _sha256(old_token)
    ).first()
    if not row:
        raise NotFound()
    await end_session(old_token)
    return await start_session(row["user"], pending, ip, user_agent)


# ---------------------------------------------------------------- two-factor (TOTP)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The 30-second step whose code this is (the current one or a neighbour), or None."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(at)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


async def enable_totp(user_id: int, secret: str, code: str) -> None:
    step = _matching_step(secret, code, now())
    if step is None:
        raise ValidationFailed({"code": "that code does not match; try the newest one"})
    async with writing():  # the code that turned it on is spent too
        await StaffUser.update(
            {StaffUser.totp_secret: secret, StaffUser.totp_enabled: True,
             StaffUser.totp_last_step: step}
        ).where(StaffUser.id == user_id)


async def disable_totp(user_id: int, admin_2fa: str) -> None:
    row = await StaffUser.select(StaffUser.role).where(StaffUser.id == user_id).first()
    if row and row["role"] == "admin" and admin_2fa == "required":
        raise Forbidden("admins must keep two-factor sign-in on")
    async with writing():
        await StaffUser.update(
            {StaffUser.totp_secret: None, StaffUser.totp_enabled: False}
        ).where(StaffUser.id == user_id)


async def verify_totp(user_id: int, code: str, ip: str) -> None:
    """The second sign-in step. Each code is counted before it is checked, toward its own
    account limit and the address limit, and a code works once per account (a replay within
    its 30 seconds, from this session or another, is a wrong code)."""
    key = f"totp:{user_id}"
    attempts = await _take_attempt([(key, ACCOUNT_LIMIT), (f"ip:{ip}", ADDRESS_LIMIT)])
    row = await StaffUser.select(StaffUser.totp_secret).where(StaffUser.id == user_id).first()
    step = _matching_step(row["totp_secret"], code, now()) if row and row["totp_secret"] else None
    if step is None:
        raise ValidationFailed({"code": "wrong code"})
    async with writing():
        # Conditional: of two sign-ins with one code at once, only one moves the step on.
        spent = await raw("UPDATE staff_user SET totp_last_step = {} WHERE id = {} AND "
                          "(totp_last_step IS NULL OR totp_last_step < {}) RETURNING id",
                          step, user_id, step)
    if not spent:
        raise ValidationFailed({"code": "wrong code"})
    await _let_go(attempts, key)


# ---------------------------------------------------------------- API keys


async def create_api_key(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationFailed({"name": "1 to 80 characters"})
    key = "crm_" + secrets.token_urlsafe(32)
    async with writing():
        await ApiKey.insert(
            ApiKey(name=name, prefix=key[:10], key_hash=_sha256(key), created_at=now())
        )
    return key


async def revoke_api_key(name: str) -> None:
    async with writing():
        await ApiKey.update({ApiKey.revoked: True}).where(ApiKey.name == name)
    _KEY_CACHE.clear()


_KEY_CACHE: dict[str, tuple[float, str]] = {}
KEY_CACHE_S = 5.0  # a revoked key stops working within 5 s in every process


async def api_key_name(key: str) -> str | None:
    """The name of a valid API key. Valid keys are remembered for a few seconds, so a busy
    integration does not pay a database lookup per request."""
    if not key or len(key) > 100:
        return None
    digest = _sha256(key)
    cached = _KEY_CACHE.get(digest)
    if cached and time.monotonic() - cached[0] < KEY_CACHE_S:
        return cached[1]
    row = await ApiKey.select(ApiKey.name, ApiKey.revoked).where(ApiKey.key_hash == digest).first()
    if not row or row["revoked"]:
        _KEY_CACHE.pop(digest, None)
        return None
    if len(_KEY_CACHE) > 1000:
        _KEY_CACHE.clear()
    _KEY_CACHE[digest] = (time.monotonic(), row["name"])
    return row["name"]
