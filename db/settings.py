"""The one place that reads the environment (in db/, so db/ never needs web/).

Each setting is defined once, as a field of Settings made by `setting(...)`: its `CRM_*`
variable, its default (as the text one would write in that variable), how the text is read
and checked, and what it is for (the README's settings table is checked against these
definitions by tests/test_settings.py). A variable that is unset or blank takes the default,
unless the field says `keep_blank`. A `.env` file in the working directory fills in variables
that are not already set; it never overrides the real environment. (The one-definition
pattern of litestar-fullstack's lib/settings.py: dataclass fields whose default factory reads
the environment.)
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent

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


# ---------------------------------------------------------------- how a variable's text is read
# Each reader takes the text (the default's text when the variable is unset) and the
# variable's name, for its error message.

Reader = Callable[[str, str], Any]


def _text(raw: str, env: str) -> str:
    return raw


def _stripped(raw: str, env: str) -> str:
    return raw.strip()


def _lower(raw: str, env: str) -> str:
    return raw.strip().lower()


def _upper(raw: str, env: str) -> str:
    return raw.upper()


def _flag(raw: str, env: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _unless_off(raw: str, env: str) -> bool:
    return raw.strip().lower() != "off"


def _int(raw: str, env: str) -> int:
    return int(raw.strip())


def _at_least_one(raw: str, env: str) -> int:
    return max(1, int(raw.strip()))


def _not_negative(raw: str, env: str) -> int:
    value = int(raw.strip())
    if value < 0:
        raise ValueError(f"{env} must be 0 or more")
    return value


def _float(raw: str, env: str) -> float:
    return float(raw.strip())


def _list(raw: str, env: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def _networks(raw: str, env: str) -> tuple[str, ...]:
    """A comma-separated list of addresses or CIDRs, each checked (a typo fails at start-up)."""
    found = _list(raw, env)
    for part in found:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"{env}: {part!r} is not an IP address or CIDR") from None
    return found


def _path(raw: str, env: str) -> Path:
    return Path(raw).resolve()


def _one_of(*choices: str) -> Reader:
    def read(raw: str, env: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"{env} must be " + " or ".join(f"'{c}'" for c in choices))
        return value

    return read


def _base_url(raw: str, env: str) -> str:
    return raw.strip().rstrip("/")


def setting(env: str, default: str, read: Reader = _text, doc: str = "", *,
            keep_blank: bool = False, secret: bool = False) -> Any:
    """A Settings field read from `env`. `default` is the variable's text when it is unset
    (or blank, unless keep_blank: then a blank value is read as it is). A secret is left out
    of the settings' repr, so a logged Settings does not carry it."""

    def from_env() -> Any:
        raw = os.environ.get(env)
        if raw is None or (not keep_blank and not raw.strip()):
            raw = default
        return read(raw, env)

    return field(default_factory=from_env, repr=not secret,
                 metadata={"env": env, "default": default, "doc": doc})


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
    database_url: str = setting(
        "CRM_DATABASE_URL", "sqlite:///./data/crm.sqlite3", keep_blank=True,
        doc="sqlite:///./data/crm.sqlite3 or postgresql://user@host:port/db")
    data_dir: Path = setting(
        "CRM_DATA_DIR", "./data", _path, keep_blank=True,
        doc="where the SQLite file, the kept secret and VAPID keys live")
    secret_key: str = setting(
        "CRM_SECRET_KEY", "", secret=True,
        doc="signs tokens; generated into the data folder when absent")
    admin_2fa: str = setting(
        "CRM_ADMIN_2FA", "required", _one_of("required", "optional"), keep_blank=True,
        doc="`required` (admins must use TOTP) or `optional` (trial installs, tests)")
    demo: bool = setting("CRM_DEMO", "0", _flag, doc="the sign-in page says this is a demo install")
    cookie_secure: bool = setting(
        "CRM_COOKIE_SECURE", "1", _flag,
        doc="set 0 only when serving plain http to other hosts on a LAN")
    behind_https_proxy: bool = setting(
        "CRM_BEHIND_HTTPS_PROXY", "0", _flag,
        doc="trust X-Forwarded-Proto for HSTS and secure redirects")
    trusted_proxies: tuple[str, ...] = setting(
        "CRM_TRUSTED_PROXIES", ",".join(TRUSTED_PROXIES), _networks,
        doc="proxies whose X-Forwarded-For entry is trusted when CRM_BEHIND_HTTPS_PROXY is on")
    session_idle_minutes: int = setting(
        "CRM_SESSION_IDLE_MINUTES", "120", _int, doc="a session unused this long ends")
    session_max_hours: int = setting(
        "CRM_SESSION_MAX_HOURS", "12", _int,
        doc="a session ends this long after sign-in whatever happens")
    timezone: str = setting(
        "CRM_TIMEZONE", "Asia/Shanghai", keep_blank=True,
        doc="the shop's default time zone for display")
    max_body_bytes: int = setting(
        "CRM_MAX_BODY_BYTES", "1048576", _int, doc="larger request bodies get 413")
    import_max_bytes: int = setting(
        "CRM_IMPORT_MAX_BYTES", "104857600", _int,
        doc="the largest file the import page accepts (the upload route only)")
    db_pool_size: int = setting(
        "CRM_DB_POOL_SIZE", "10", _int,
        doc="PostgreSQL connections per worker process (0: a connection per query)")
    log_level: str = setting("CRM_LOG_LEVEL", "INFO", _upper, keep_blank=True,
                             doc="the server log's level (DEBUG, INFO, WARNING, …)")
    nightly_at: str = setting(
        "CRM_NIGHTLY_AT", "03:00", _lower,
        doc="shop-local time of the nightly recompute (HH:MM), or `off`")
    push_contact: str = setting(
        "CRM_PUSH_CONTACT", "mailto:admin@localhost", _stripped,
        doc="the VAPID `sub` push services may write to (mailto: or https: URL)")
    push_allowed_hosts: tuple[str, ...] = setting(
        "CRM_PUSH_ALLOWED_HOSTS", ",".join(PUSH_SERVICES), _list,
        doc="comma-separated hosts (`*.example.com`, `host:port`) that subscription endpoints "
            "may point at; replaces the list of known push services")
    push_allow_http: bool = setting(
        "CRM_PUSH_ALLOW_HTTP", "0", _flag,
        doc="accept http:// endpoints (a local test push service only)")
    push_sender: bool = setting(
        "CRM_PUSH_SENDER", "on", _unless_off,
        doc="`off` stops this process from sending queued push messages")
    push_poll_seconds: float = setting(
        "CRM_PUSH_POLL_SECONDS", "5", _float,
        doc="how often an idle sender looks for due messages")
    push_timeout_seconds: float = setting(
        "CRM_PUSH_TIMEOUT_SECONDS", "10", _float,
        doc="the longest one request to a push service may take")
    push_retry_seconds: float = setting(
        "CRM_PUSH_RETRY_SECONDS", "30", _float,
        doc="the first retry delay; doubles per attempt, at most 1 h")
    push_max_attempts: int = setting(
        "CRM_PUSH_MAX_ATTEMPTS", "6", _at_least_one,
        doc="attempts before a message is marked failed")
    push_concurrency: int = setting(
        "CRM_PUSH_CONCURRENCY", "64", _at_least_one,
        doc="requests to push services in flight per process")
    reminders: bool = setting(
        "CRM_REMINDERS", "on", _unless_off,
        doc="`off` stops this process from queueing follow-up reminders and digests")
    reminder_poll_seconds: float = setting(
        "CRM_REMINDER_POLL_SECONDS", "5", _float, doc="how often due reminders are looked for")
    sms_backend: str = setting(
        "CRM_SMS_BACKEND", "console", _one_of("console", "http"),
        doc="`console` (the member sign-in code goes to the server log) or `http`")
    sms_http_url: str = setting(
        "CRM_SMS_HTTP_URL", "", _stripped,
        doc='with `http`, the gateway that takes POST {"to", "text"} as JSON')
    sms_http_token: str = setting(
        "CRM_SMS_HTTP_TOKEN", "", _stripped, secret=True,
        doc="sent to that gateway as `Authorization: Bearer …`")
    member_session_idle_days: int = setting(
        "CRM_MEMBER_SESSION_IDLE_DAYS", "30", _at_least_one,
        doc="a member page session unused this long ends")
    member_session_max_days: int = setting(
        "CRM_MEMBER_SESSION_MAX_DAYS", "90", _at_least_one,
        doc="a member signs in again this long after signing in")
    base_url: str = setting(
        "CRM_BASE_URL", "", _base_url,
        doc="how people reach this server (https://crm.example.com), for links it prints or "
            "sends; unset: http://127.0.0.1:8000")
    smtp_url: str = setting(
        "CRM_SMTP_URL", "", _stripped, secret=True,
        doc="the SMTP server scheduled reports are e-mailed through: "
            "smtp://user:pass@host:587?starttls=1 (or smtps://… for TLS from the start); unset: "
            "no e-mail is sent")
    mail_from: str = setting(
        "CRM_MAIL_FROM", "", _stripped,
        doc="the From address of those e-mails, e.g. `CRM <crm@shop.example>`")
    point_value_fen: int = setting(
        "CRM_POINT_VALUE_FEN", "1", _not_negative,
        doc="what one point is worth to the shop, in fen (1: ¥0.01), for the points liability "
            "on the dashboard and in reports")
    figures_max_age_seconds: int = setting(
        "CRM_FIGURES_MAX_AGE_SECONDS", "900", _not_negative,
        doc="how old stored dashboard and report figures may be before they are recomputed in "
            "the background (db/figures/store.py); 0: never stored, always computed live")
    extra: dict = field(default_factory=dict)
    # CRM_TRUSTED_PROXIES parsed once, for web/auth.py's check of each request's peer.
    trusted_networks: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.secret_key:  # generated on first run, kept in the data folder
            object.__setattr__(self, "secret_key", _kept_secret(self.data_dir))
        object.__setattr__(self, "trusted_networks", tuple(
            ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies))

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
        return cls()


def definitions() -> list[dict]:
    """Every setting: its field name, variable, default text and what it is for."""
    return [{"name": f.name, **f.metadata} for f in fields(Settings) if "env" in f.metadata]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
