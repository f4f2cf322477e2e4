"""Browsers' push subscriptions: validated before they are stored, because the sender will
POST to the endpoint and encrypt to the keys. An endpoint must be on a known push service
(`host_allowed`), so a subscription can never make the server fetch an internal address."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from db.clock import now
from db.engine import as_datetime, raw, writing
from db.errors import ValidationFailed
from db.settings import get_settings

MAX_ENDPOINT = 2048


def _host_matches(host: str, port: int | None, pattern: str) -> bool:
    name, _, want_port = pattern.partition(":")
    if want_port and str(port) != want_port:
        return False
    if name.startswith("*."):
        return host.endswith(name[1:]) and len(host) > len(name) - 1
    return host == name


def host_allowed(url: str) -> bool:
    """True when the URL's host is one of the allowed push services (CRM_PUSH_ALLOWED_HOSTS
    replaces the default list; `*.example.com` matches any subdomain, `host:port` one port)."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return False
    if not host:
        return False
    return any(_host_matches(host, port, p) for p in get_settings().push_allowed_hosts)


def endpoint_problem(endpoint) -> str | None:
    """Why this endpoint may not be used (None: fine): on save, and again before each send."""
    if not isinstance(endpoint, str) or not endpoint:
        return "required"
    if len(endpoint) > MAX_ENDPOINT:
        return "at most 2048 characters"
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "must be an https URL"
    schemes = ("https", "http") if get_settings().push_allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        return "must be an https URL"
    if not host_allowed(endpoint):
        return "not a known push service"
    return None


def b64url_decode(value: str) -> bytes:
    """base64url with or without padding; raises ValueError on anything else."""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError("not base64url")
    stripped = value.rstrip("=")
    if any(c not in _B64URL for c in stripped):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


_B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _check_p256dh(value) -> str | None:
    try:
        point = b64url_decode(value)
        if len(point) != 65 or point[0] != 4:
            raise ValueError("not an uncompressed point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)  # checks the curve
    except ValueError:
        return "must be a P-256 public key (base64url)"
    return None


def _check_auth(value) -> str | None:
    try:
        if len(b64url_decode(value)) != 16:
            raise ValueError("wrong length")
    except ValueError:
        return "must be 16 bytes (base64url)"
    return None


def parse_subscription(data) -> dict:
    """The browser's PushSubscription.toJSON(), checked; raises ValidationFailed."""
    if not isinstance(data, dict):
        raise ValidationFailed({"endpoint": "required"})
    errors = {}
    if problem := endpoint_problem(data.get("endpoint")):
        errors["endpoint"] = problem
    keys = data.get("keys")
    if not isinstance(keys, dict):
        errors["keys"] = "required"
    else:
        if problem := _check_p256dh(keys.get("p256dh")):
            errors["keys.p256dh"] = problem
        if problem := _check_auth(keys.get("auth")):
            errors["keys.auth"] = problem
    if errors:
        raise ValidationFailed(errors)
    return {"endpoint": data["endpoint"], "p256dh": keys["p256dh"].rstrip("="),
            "auth": keys["auth"].rstrip("=")}


async def save_subscription(user_id: int | None, data: dict, user_agent: str = "", *,
                            member_id: int | None = None) -> int:
    """Store (or take over) a device's subscription for a staff user or, with member_id, a
    member (the member page's Web Push); returns its id. The same endpoint posted again, by
    anyone signing in on that browser, updates the one row, which then belongs to the new
    owner alone."""
    if (user_id is None) == (member_id is None):
        raise ValueError("a subscription belongs to one staff user or one member")
    sub = parse_subscription(data)
    stamp = now()
    async with writing():
        rows = await raw(
            "INSERT INTO push_subscription (\"user\", member, endpoint, p256dh, auth, user_agent, "
            "created_at, failures) VALUES ({}, {}, {}, {}, {}, {}, {}, 0) "
            "ON CONFLICT (endpoint) DO UPDATE SET \"user\" = excluded.\"user\", "
            "member = excluded.member, p256dh = excluded.p256dh, auth = excluded.auth, "
            "user_agent = excluded.user_agent, failures = 0 RETURNING id",
            user_id, member_id, sub["endpoint"], sub["p256dh"], sub["auth"],
            (user_agent or "")[:300], stamp,
        )
    return rows[0]["id"]


async def remove_member_subscription(member_id: int, endpoint: str | None) -> int:
    """Forget one of this member's devices, or all of them (endpoint None)."""
    async with writing():
        if endpoint is None:
            rows = await raw("DELETE FROM push_subscription WHERE member = {} RETURNING id",
                             member_id)
        else:
            rows = await raw("DELETE FROM push_subscription WHERE member = {} AND endpoint = {} "
                             "RETURNING id", member_id, endpoint)
    return len(rows)


async def member_device_count(member_id: int) -> int:
    rows = await raw("SELECT count(*) AS n FROM push_subscription WHERE member = {}", member_id)
    return rows[0]["n"]


async def remove_subscription(user_id: int, endpoint: str | None) -> int:
    """Forget one of this user's devices, or all of them (endpoint None); returns how many.
    Their queued messages go with them (ON DELETE CASCADE)."""
    async with writing():
        if endpoint is None:
            rows = await raw("DELETE FROM push_subscription WHERE \"user\" = {} RETURNING id",
                             user_id)
        else:
            rows = await raw("DELETE FROM push_subscription WHERE \"user\" = {} AND endpoint = {} "
                             "RETURNING id", user_id, endpoint)
    return len(rows)


async def devices(user_id: int) -> list[dict]:
    """This user's subscribed devices, newest first (a person has a handful at most)."""
    rows = await raw(
        "SELECT id, endpoint, user_agent, created_at, last_success_at, failures "
        "FROM push_subscription WHERE \"user\" = {} ORDER BY id DESC LIMIT 50", user_id)
    for row in rows:
        row["created_at"] = as_datetime(row["created_at"])
        row["last_success_at"] = as_datetime(row["last_success_at"])
    return rows
