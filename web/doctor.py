"""`crm doctor`: check what a working install needs and say how to fix what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

from db import mail
from db.settings import get_settings
from db.push.vapid import key_path, load
from db.engine import raw


async def run_checks(say) -> list[str]:
    problems: list[str] = []

    def ok(name: str, detail: str) -> None:
        say(f"  ok    {name}: {detail}")

    def bad(name: str, detail: str, fix: str) -> None:
        problems.append(name)
        say(f"  FAIL  {name}: {detail}\n        fix: {fix}")

    settings = get_settings()
    say("Shop CRM doctor")
    kind = "SQLite" if settings.is_sqlite else "PostgreSQL"
    ok("settings", f"{kind} database, data folder {settings.data_dir}, "
       f"admin two-factor {settings.admin_2fa}" + (", demo install" if settings.demo else ""))
    if not os.environ.get("CRM_SECRET_KEY"):
        ok("secret key", f"kept in {settings.data_dir / 'secret_key'} (set CRM_SECRET_KEY to "
           "share one key across machines)")
    if settings.admin_2fa != "required" and not settings.demo:
        bad("two-factor", "admins may sign in without two-factor",
            "set CRM_ADMIN_2FA=required for a real install")
    if not settings.cookie_secure:
        say("  warn  cookies are sent over plain http (CRM_COOKIE_SECURE=0); serve https")


    try:
        await raw("SELECT 1")
        ok("database", "reachable")
    except Exception as exc:  # noqa: BLE001 - any failure here is the answer
        bad("database", f"cannot connect ({exc.__class__.__name__}: {exc})",
            "check CRM_DATABASE_URL and that the server is running")
        return problems

    from piccolo.apps.migrations.commands.check import CheckMigrationManager

    statuses = await CheckMigrationManager(app_name="all").get_migration_statuses()
    pending = [s for s in statuses if not s.has_ran]
    if pending:
        bad("migrations", f"{len(pending)} not applied", "run `crm migrate`")
    else:
        ok("migrations", f"all {len(statuses)} applied")

    problems += _check_fonts(ok, bad)

    if key_path(settings.data_dir).exists():
        try:
            load(settings.data_dir)
            ok("VAPID keys", f"{key_path(settings.data_dir)}")
        except Exception as exc:  # noqa: BLE001
            bad("VAPID keys", f"unreadable ({exc})", f"delete {key_path(settings.data_dir)} "
                "and run `crm serve` to create new ones (subscribed browsers must re-subscribe)")
    else:
        bad("VAPID keys", "not created yet", "run `crm serve` or `crm demo` once")
    if settings.push_contact == "mailto:admin@localhost":
        # Push services write to this address about our traffic before they block it.
        say("  warn  CRM_PUSH_CONTACT is mailto:admin@localhost; set a real mailto: or https: "
            "contact for Web Push")
    if settings.push_allow_http:
        say("  warn  CRM_PUSH_ALLOW_HTTP=1 accepts http:// push endpoints (local tests only)")

    await _check_mail(ok, bad, say)

    say("All good." if not problems else f"{len(problems)} problem(s) found.")
    return problems


def _check_fonts(ok, bad) -> list[str]:
    if not shutil.which("fc-list"):
        bad("PDF fonts", "fontconfig is not installed", "apt-get install fontconfig fonts-noto-cjk")
        return ["PDF fonts"]
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    families = sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})
    if not families:
        bad("PDF fonts", "no font with Chinese glyphs", "apt-get install fonts-noto-cjk")
        return ["PDF fonts"]
    try:
        from weasyprint import HTML

        doc = HTML(string="<p style='font-family: sans-serif'>客户报表 123</p>").render()
        doc.write_pdf()
        used = {font.family for font in doc.fonts.values()}
    except Exception as exc:  # noqa: BLE001
        bad("PDF rendering", f"WeasyPrint cannot render ({exc})",
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0")
        return ["PDF rendering"]
    chinese = sorted(used & set(families))
    if not chinese:
        bad("PDF fonts", "a test PDF did not embed a Chinese font", "apt-get install fonts-noto-cjk")
        return ["PDF fonts"]
    ok("PDF fonts", f"a test PDF embedded {', '.join(chinese)} for Chinese text")
    return []


async def _check_mail(ok, bad, say) -> None:
    """Scheduled reports go by e-mail: off without CRM_SMTP_URL (a warning), a problem when
    it is set but wrong or the server does not take our sign-in."""
    try:
        config = mail.smtp_config()
    except ValueError as exc:
        bad("e-mail", str(exc), "fix CRM_SMTP_URL / CRM_MAIL_FROM (see the README's settings)")
        return
    if config is None:
        say("  warn  e-mail is off: CRM_SMTP_URL is not set, so scheduled reports are not sent "
            "(set CRM_SMTP_URL=smtp://user:pass@host:587?starttls=1 and CRM_MAIL_FROM)")
        return
    try:
        await mail.check(config)
    except mail.MailError as exc:
        bad("e-mail", str(exc), "check CRM_SMTP_URL's host, port, user and password")
        return
    ok("e-mail", f"SMTP configured: {config.describe()}")
