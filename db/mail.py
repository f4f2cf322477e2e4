"""E-mail out through SMTP (CRM_SMTP_URL, CRM_MAIL_FROM) with aiosmtplib, the maintained
asyncio SMTP client. Only scheduled reports send e-mail so far (reports/jobs.py).

CRM_SMTP_URL: `smtp://user:pass@host:587?starttls=1` (STARTTLS, the default on smtp://),
`smtp://host:25?starttls=0` (plain, a trusted relay only), or `smtps://user:pass@host:465` (TLS
from the first byte). User and password are percent-encoded. A server that is down, refuses
the sign-in or refuses a recipient raises MailError with what it said; callers retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from db.settings import get_settings

TIMEOUT_S = 30.0
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class MailError(Exception):
    """Sending failed (or mail is not set up); the text says why, for the page and the log."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # TLS from the start (smtps://)
    start_tls: bool  # upgrade with STARTTLS (smtp://, unless starttls=0)
    sender: str  # CRM_MAIL_FROM as written
    sender_address: str  # its bare address, for the envelope

    def describe(self) -> str:
        """For `crm doctor`: where mail goes, without the password."""
        how = "TLS" if self.use_tls else ("STARTTLS" if self.start_tls else "no encryption")
        who = f"{self.username}@" if self.username else ""
        return f"{who}{self.host}:{self.port} ({how}), from {self.sender}"


def parse_smtp(url: str, mail_from: str) -> SmtpConfig:
    """The settings read, or ValueError saying what is wrong with them."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("CRM_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("CRM_SMTP_URL names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("CRM_SMTP_URL has a port that is not a number from 1 to 65535") from None
    query = {k: v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "1")
    if starttls not in TRUE + FALSE:
        raise ValueError("CRM_SMTP_URL: starttls must be 1 or 0")
    use_tls = parts.scheme == "smtps"
    start_tls = not use_tls and starttls in TRUE
    name, address = parseaddr(mail_from or "")
    if not mail_from.strip():
        raise ValueError("CRM_MAIL_FROM is not set (the From address, e.g. crm@shop.example)")
    if "@" not in address or len(getaddresses([mail_from])) != 1:
        raise ValueError("CRM_MAIL_FROM must be one e-mail address, e.g. Shop CRM <crm@shop.example>")
    return SmtpConfig(
        host=parts.hostname, port=port or (465 if use_tls else 587),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=use_tls, start_tls=start_tls, sender=mail_from.strip(), sender_address=address)


def smtp_config() -> SmtpConfig | None:
    """The configured server, None when CRM_SMTP_URL is unset; ValueError when it is wrong."""
    settings = get_settings()
    if not settings.smtp_url:
        return None
    return parse_smtp(settings.smtp_url, settings.mail_from)


UNSET = "CRM_SMTP_URL is not set"


def smtp_problem() -> str | None:
    """Why e-mail cannot be sent ("" never): None when it is configured and reads well;
    UNSET when it is not configured, else what is wrong with the setting."""
    try:
        return None if smtp_config() else UNSET
    except ValueError as exc:
        return str(exc)


def message(to: str, subject: str, text: str, *, sender: str | None = None,
            attachments: tuple[tuple[str, bytes, str], ...] = ()) -> EmailMessage:
    """A plain-text e-mail with attachments (filename, bytes, media type)."""
    msg = EmailMessage()
    msg["From"] = sender or get_settings().mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=(parseaddr(msg["From"])[1].rpartition("@")[2] or None))
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a report
    msg.set_content(text)
    for filename, data, media_type in attachments:
        maintype, _, subtype = media_type.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return msg


async def send(msg: EmailMessage, config: SmtpConfig | None = None) -> None:
    """Send one message; MailError says what went wrong."""
    try:
        config = config or smtp_config()
    except ValueError as exc:
        raise MailError(str(exc)) from None
    if config is None:
        raise MailError("e-mail is off: CRM_SMTP_URL is not set")
    if msg["From"] is None:
        msg["From"] = config.sender
    try:
        await aiosmtplib.send(
            msg, sender=config.sender_address, hostname=config.host, port=config.port,
            username=config.username, password=config.password, use_tls=config.use_tls,
            start_tls=config.start_tls, timeout=TIMEOUT_S)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        raise MailError(f"the mail server refused the recipient ({refused})") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise MailError(f"the mail server said {exc.code} {exc.message}") from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected,
            OSError) as exc:
        raise MailError(f"cannot reach the mail server {config.host}:{config.port} ({exc})") from None
    except aiosmtplib.SMTPException as exc:
        raise MailError(f"sending failed ({exc})") from None


async def check(config: SmtpConfig, timeout: float = 10.0) -> None:
    """Connect, say hello, start TLS and sign in as a send would, then quit: MailError says
    what failed (for `crm doctor`; nothing is sent)."""
    client = aiosmtplib.SMTP(hostname=config.host, port=config.port, use_tls=config.use_tls,
                             start_tls=config.start_tls, timeout=timeout)
    try:
        await client.connect()
        if config.username:
            await client.login(config.username, config.password or "")
        await client.quit()
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise MailError(f"the mail server refused the user name or password ({exc.code} {exc.message})") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise MailError(f"the mail server said {exc.code} {exc.message}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"cannot reach the mail server {config.host}:{config.port} ({exc})") from None
    finally:
        client.close()
