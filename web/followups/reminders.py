"""The words of reminder and digest pushes, in each assignee's language and time zone, and
the loop that queues them (db/followups/reminders.py decides what is due)."""

from __future__ import annotations

from babel.dates import format_datetime

from db.followups import reminders
from web.core import i18n
from db.settings import get_settings


def _words(lang: str | None):
    return i18n.translations(i18n.choose(lang, None))


def _time(value, zone_name: str | None, lang: str | None, fmt: str = "HH:mm") -> str:
    zone = reminders.zone_named(zone_name or get_settings().timezone)
    return format_datetime(value, format=fmt, tzinfo=zone, locale=i18n.locale_for(i18n.choose(lang, None)))


def compose_reminder(row: dict) -> dict:
    words = _words(row["locale"])
    title = words.gettext("Late reminder: %(name)s") if row["late"] else words.gettext("Follow up: %(name)s")
    when = _time(row["due_at"], row["timezone"], row["locale"], "M/d HH:mm")
    due = words.gettext("due %(time)s") % {"time": when}
    return {"title": title % {"name": row["customer_name"]}, "body": f"{row['title']} · {due}",
            "url": f"/followups/{row['id']}", "tag": f"followup-{row['id']}"}


def compose_digest(person: dict) -> dict:
    words = _words(person["locale"])
    items = person["items"]
    lines = [f"{_time(i['due_at'], person['timezone'], person['locale'])} {i['customer_name']}: {i['title']}"
             for i in items[:4]]
    if len(items) > 4:
        lines.append(words.gettext("and %(n)d more") % {"n": len(items) - 4})
    title = words.ngettext("Today: %(num)d follow-up", "Today: %(num)d follow-ups", len(items))
    return {"title": title % {"num": len(items)}, "body": "\n".join(lines),
            "url": "/today", "tag": "digest"}


async def run_reminder_loop() -> None:
    settings = get_settings()
    await reminders.run_reminders(compose_reminder, compose_digest, settings.timezone,
                                  settings.reminder_poll_seconds)
