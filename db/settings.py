"""The one place that reads the environment (in db/, so db/ never needs web/).

Every setting is a field read from one `CRM_*` variable. A `.env` file in the working
directory fills in variables that are not already set; it never overrides the real
environment.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


# The push services browsers subscribe with: a subscription endpoint anywhere else is refused,
# so the sender can never be pointed at an internal address (SSRF).
PUSH_SERVICES = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    "*.push.apple.com",
    "*.notify.windows.com",
)


# Comma-separated CIDRs in CRM_TRUSTED_PROXIES; by default a proxy on this machine.
TRUSTED_PROXIES = ("127.0.0.1/32", "::1/128")


def _networks(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of addresses or CIDRs, each checked (a typo fails at start-up)."""
    found = _list(name, default)
    for part in found:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"{name}: {part!r} is not an IP address or CIDR") from None
    return found


def _kept_secret(data_dir: Path) -> str:
    """CRM_SECRET_KEY, else a key generated on first run and kept in the data folder."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str
    """CRM_DATABASE_URL: sqlite:///./data/crm.sqlite3 or postgresql://user@host:port/db."""
    secret_key: str
    """CRM_SECRET_KEY: signs tokens; generated into the data folder when absent."""
    data_dir: Path
    """CRM_DATA_DIR: where the SQLite file, the kept secret and VAPID keys live."""
    admin_2fa: str = "required"
    """CRM_ADMIN_2FA: `required` (admins must use TOTP) or `optional` (trial installs, tests)."""
    demo: bool = False
    """CRM_DEMO: the sign-in page says this is a demo install."""
    cookie_secure: bool = True
    """CRM_COOKIE_SECURE: set 0 only when serving plain http to other hosts on a LAN."""
    behind_https_proxy: bool = False
    """CRM_BEHIND_HTTPS_PROXY: trust X-Forwarded-Proto for HSTS and secure redirects."""
    trusted_proxies: tuple[str, ...] = TRUSTED_PROXIES
    """CRM_TRUSTED_PROXIES: proxies whose X-Forwarded-For entry is trusted when
    CRM_BEHIND_HTTPS_PROXY is on."""
    session_idle_minutes: int = 120
    """CRM_SESSION_IDLE_MINUTES: a session unused this long ends."""
    session_max_hours: int = 12
    """CRM_SESSION_MAX_HOURS: a session ends this long after sign-in whatever happens."""
    timezone: str = "Asia/Shanghai"
    """CRM_TIMEZONE: the shop's default time zone for display."""
    max_body_bytes: int = 1_048_576
    """CRM_MAX_BODY_BYTES: larger request bodies get 413."""
    import_max_bytes: int = 104_857_600
    """CRM_IMPORT_MAX_BYTES: the largest file the import page accepts (the upload route only)."""
    db_pool_size: int = 10
    """CRM_DB_POOL_SIZE: PostgreSQL connections per worker process (0: a connection per query)."""
    log_level: str = "INFO"
    """CRM_LOG_LEVEL."""
    nightly_at: str = "03:00"
    """CRM_NIGHTLY_AT: shop-local time of the nightly recompute (HH:MM), or `off`."""
    push_contact: str = "mailto:admin@localhost"
    """CRM_PUSH_CONTACT: the VAPID `sub` push services may write to (mailto: or https: URL)."""
    push_allowed_hosts: tuple[str, ...] = PUSH_SERVICES
    """CRM_PUSH_ALLOWED_HOSTS: comma-separated hosts (`*.example.com`, `host:port`) that
    subscription endpoints may point at; replaces the list of known push services."""
    push_allow_http: bool = False
    """CRM_PUSH_ALLOW_HTTP: accept http:// endpoints (a local test push service only)."""
    push_sender: bool = True
    """CRM_PUSH_SENDER: `off` stops this process from sending queued push messages."""
    push_poll_seconds: float = 5.0
    """CRM_PUSH_POLL_SECONDS: how often an idle sender looks for due messages."""
    push_timeout_seconds: float = 10.0
    """CRM_PUSH_TIMEOUT_SECONDS: the longest one request to a push service may take."""
    push_retry_seconds: float = 30.0
    """CRM_PUSH_RETRY_SECONDS: the first retry delay; doubles per attempt, at most 1 h."""
    push_max_attempts: int = 6
    """CRM_PUSH_MAX_ATTEMPTS: attempts before a message is marked failed."""
    push_concurrency: int = 64
    """CRM_PUSH_CONCURRENCY: requests to push services in flight per process."""
    reminders: bool = True
    """CRM_REMINDERS: `off` stops this process from queueing follow-up reminders and digests."""
    reminder_poll_seconds: float = 5.0
    """CRM_REMINDER_POLL_SECONDS: how often due reminders are looked for."""
    sms_backend: str = "console"
    """CRM_SMS_BACKEND: `console` (the member sign-in code goes to the server log) or `http`."""
    sms_http_url: str = ""
    """CRM_SMS_HTTP_URL: with `http`, the gateway that takes POST {"to", "text"} as JSON."""
    sms_http_token: str = ""
    """CRM_SMS_HTTP_TOKEN: sent to that gateway as `Authorization: Bearer …`."""
    member_session_idle_days: int = 30
    """CRM_MEMBER_SESSION_IDLE_DAYS: a member page session unused this long ends."""
    member_session_max_days: int = 90
    """CRM_MEMBER_SESSION_MAX_DAYS: a member signs in again this long after signing in."""
    base_url: str = ""
    """CRM_BASE_URL: how people reach this server (https://crm.example.com), for links it
    prints or sends; unset: http://127.0.0.1:8000."""
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        raw = self.database_url.split("sqlite:///", 1)[1]
        path = Path(raw)
        return path if path.is_absolute() else (Path.cwd() / path)

    @classmethod
    def from_env(cls) -> "Settings":
        load_dotenv(Path.cwd() / ".env", override=False)
        data_dir = Path(os.environ.get("CRM_DATA_DIR", "./data")).resolve()
        admin_2fa = os.environ.get("CRM_ADMIN_2FA", "required").strip().lower()
        if admin_2fa not in {"required", "optional"}:
            raise ValueError("CRM_ADMIN_2FA must be 'required' or 'optional'")
        sms_backend = os.environ.get("CRM_SMS_BACKEND", "console").strip().lower() or "console"
        if sms_backend not in {"console", "http"}:
            raise ValueError("CRM_SMS_BACKEND must be 'console' or 'http'")
        return cls(
            database_url=os.environ.get("CRM_DATABASE_URL", "sqlite:///./data/crm.sqlite3"),
            secret_key=os.environ.get("CRM_SECRET_KEY") or _kept_secret(data_dir),
            data_dir=data_dir,
            admin_2fa=admin_2fa,
            demo=_flag("CRM_DEMO", False),
            cookie_secure=_flag("CRM_COOKIE_SECURE", True),
            behind_https_proxy=_flag("CRM_BEHIND_HTTPS_PROXY", False),
            trusted_proxies=_networks("CRM_TRUSTED_PROXIES", TRUSTED_PROXIES),
            session_idle_minutes=_int("CRM_SESSION_IDLE_MINUTES", 120),
            session_max_hours=_int("CRM_SESSION_MAX_HOURS", 12),
            timezone=os.environ.get("CRM_TIMEZONE", "Asia/Shanghai"),
            max_body_bytes=_int("CRM_MAX_BODY_BYTES", 1_048_576),
            import_max_bytes=_int("CRM_IMPORT_MAX_BYTES", 104_857_600),
            db_pool_size=_int("CRM_DB_POOL_SIZE", 10),
            log_level=os.environ.get("CRM_LOG_LEVEL", "INFO").upper(),
            nightly_at=os.environ.get("CRM_NIGHTLY_AT", "03:00").strip().lower() or "03:00",
            push_contact=os.environ.get("CRM_PUSH_CONTACT", "").strip() or "mailto:admin@localhost",
            push_allowed_hosts=_list("CRM_PUSH_ALLOWED_HOSTS", PUSH_SERVICES),
            push_allow_http=_flag("CRM_PUSH_ALLOW_HTTP", False),
            push_sender=os.environ.get("CRM_PUSH_SENDER", "on").strip().lower() != "off",
            push_poll_seconds=_float("CRM_PUSH_POLL_SECONDS", 5.0),
            push_timeout_seconds=_float("CRM_PUSH_TIMEOUT_SECONDS", 10.0),
            push_retry_seconds=_float("CRM_PUSH_RETRY_SECONDS", 30.0),
            push_max_attempts=max(1, _int("CRM_PUSH_MAX_ATTEMPTS", 6)),
            push_concurrency=max(1, _int("CRM_PUSH_CONCURRENCY", 64)),
            reminders=os.environ.get("CRM_REMINDERS", "on").strip().lower() != "off",
            reminder_poll_seconds=_float("CRM_REMINDER_POLL_SECONDS", 5.0),
            sms_backend=sms_backend,
            sms_http_url=os.environ.get("CRM_SMS_HTTP_URL", "").strip(),
            sms_http_token=os.environ.get("CRM_SMS_HTTP_TOKEN", "").strip(),
            member_session_idle_days=max(1, _int("CRM_MEMBER_SESSION_IDLE_DAYS", 30)),
            member_session_max_days=max(1, _int("CRM_MEMBER_SESSION_MAX_DAYS", 90)),
            base_url=os.environ.get("CRM_BASE_URL", "").strip().rstrip("/"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
