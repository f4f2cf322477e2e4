"""Sending the member sign-in code by SMS: one small interface, two backends.

`CRM_SMS_BACKEND=console` (the default) writes the message to the server log through the
`crm.sms` logger, for trial installs and tests (`last_console_message` reads it back).
`CRM_SMS_BACKEND=http` POSTs `{"to": "+86…", "text": "…"}` as JSON to `CRM_SMS_HTTP_URL` with
`Authorization: Bearer CRM_SMS_HTTP_TOKEN`, for a gateway of the shop's choosing; anything
but a 2xx within the timeout raises SmsFailed, and the code is then not counted as sent.
Codes are never logged anywhere else.
"""

from __future__ import annotations

import logging

from db.customers.identity import mask_mobile
from db.settings import get_settings

log = logging.getLogger("crm.sms")

TIMEOUT_S = 5.0

# The console backend's messages in this process, newest last (tests and `crm` helpers read it).
_console: list[tuple[str, str]] = []
_CONSOLE_KEEP = 50


class SmsFailed(Exception):
    """The message could not be handed to the SMS gateway."""


def _settings():
    return get_settings()


def last_console_message(mobile: str | None = None) -> str | None:
    """The newest text the console backend 'sent' (to this mobile, when given)."""
    for to, text in reversed(_console):
        if mobile is None or to == mobile:
            return text
    return None


async def _send_http(url: str, token: str, to: str, text: str) -> None:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, json={"to": to, "text": text}, headers=headers,
                                    allow_redirects=False) as response:
                if not 200 <= response.status < 300:
                    raise SmsFailed(f"gateway answered {response.status}")
    except SmsFailed:
        raise
    except Exception as exc:  # timeouts, refused connections, DNS: all "could not send"
        raise SmsFailed(type(exc).__name__) from exc


async def send(to: str, text: str) -> None:
    """Send `text` to the E.164 number `to`; raises SmsFailed when the gateway did not take it."""
    settings = _settings()
    if settings.sms_backend == "http":
        if not settings.sms_http_url:
            raise SmsFailed("CRM_SMS_HTTP_URL is not set")
        try:
            await _send_http(settings.sms_http_url, settings.sms_http_token, to, text)
        except SmsFailed as exc:
            log.warning("SMS to %s failed: %s", mask_mobile(to), exc)
            raise
        return
    _console.append((to, text))
    del _console[:-_CONSOLE_KEEP]
    log.info("SMS to %s: %s", mask_mobile(to), text)
