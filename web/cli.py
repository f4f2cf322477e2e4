"""The `crm` command: migrate, serve, demo, user, apikey, doctor.

Settings, errors and the VAPID keys are imported at the top (they are light). What loads
Piccolo, the tables or a domain (about a second) is imported inside the command that uses it,
so `crm --help` and `crm serve` (whose workers import the app themselves) start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from pathlib import Path

import click

from db.errors import NotFound, ValidationFailed
from db.push.vapid import ensure_vapid_keys
from db.settings import get_settings

os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")


def _run(coro):
    return asyncio.run(coro)


async def _migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    # lazy: loads Piccolo and the tables (see the module doc)
    from db.engine import engine

    eng = engine()
    if eng.engine_type == "postgres":
        await eng.run_ddl("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with contextlib.redirect_stdout(io.StringIO()) as chatter:  # Piccolo prints a banner per app
        result = await run_forwards(app_name="all")
    if not result.success:
        raise click.ClickException(f"migrations failed: {result.message}\n{chatter.getvalue()}")


@click.group()
def main() -> None:
    """Shop CRM: a self-hosted, phone-first CRM for e-commerce shops."""


@main.command()
def migrate() -> None:
    """Apply all migrations to the configured database."""
    _run(_migrate())
    click.echo("Database is up to date.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int, envvar="CRM_PORT",
              help="Also read from CRM_PORT, which `crm demo` uses for the links it prints.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app (granian, several worker processes when asked)."""
    from granian import Granian
    from granian.constants import Interfaces

    _run(_migrate())  # before any worker starts, so workers never race to migrate
    settings = get_settings()
    ensure_vapid_keys(settings.data_dir)
    click.echo(f"Shop CRM on http://{host}:{port}  ({workers} worker(s), "
               f"{'SQLite' if settings.is_sqlite else 'PostgreSQL'})")
    if settings.demo:
        click.echo("Demo install: sign in with the admin account `crm demo` printed.")
    Granian(
        "web.asgi:app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        log_access=False,
        respawn_failed_workers=True,
        working_dir=Path.cwd(),
    ).serve()


def _mark_demo_install() -> bool:
    """A trial install: the sign-in page says so and two-factor is optional (in .env)."""
    env_file = Path.cwd() / ".env"
    text = env_file.read_text() if env_file.exists() else ""
    wanted = {"CRM_DEMO": "1", "CRM_ADMIN_2FA": "optional"}
    missing = [f"{k}={v}" for k, v in wanted.items() if f"{k}=" not in text]
    if missing:
        with env_file.open("a") as fh:
            fh.write(("\n" if text and not text.endswith("\n") else "") + "\n".join(missing) + "\n")
    for key, value in wanted.items():
        os.environ.setdefault(key, value)
    return bool(missing)


def _base_url() -> str:
    """Where the shop's server is reached: CRM_BASE_URL, else this machine on `crm serve`'s
    port (CRM_PORT, 8000 by default)."""
    port = os.environ.get("CRM_PORT", "").strip() or "8000"
    return get_settings().base_url or f"http://127.0.0.1:{port}"


@main.command()
@click.option("--customers", default=2000, show_default=True, type=click.IntRange(0, 5_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--order-scale", default=1.0, show_default=True, type=click.FloatRange(0.1, 20),
              help="Multiply each customer's order count (benchmarks: 3.3 gives ~10 orders each).")
@click.option("--points-entries", default=None, type=click.IntRange(0, 500_000_000),
              help="About this many points entries in all (benchmarks: 20000000 with "
                   "--customers 200000); members then get more task points.")
def demo(customers: int, seed: int, order_scale: float, points_entries: int | None) -> None:
    """Migrate and load realistic, deterministic demo data; print how to sign in.

    Marks the install as a trial in .env (demo notice, two-factor optional). Run again, it
    loads nothing more and gives the `admin` account a new password.
    """
    _mark_demo_install()
    _run(_migrate())
    ensure_vapid_keys(get_settings().data_dir)
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.demo import load_demo

    bars: dict[str, click.progressbar] = {}

    def progress(label: str, done: int, total: int) -> None:
        bar = bars.get(label)
        if bar is None:
            for other in bars.values():
                other.render_finish()
            bar = bars[label] = click.progressbar(length=max(total, 1), label=label.ljust(14),
                                                  file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    result = _run(load_demo(customers=customers, seed=seed, progress=progress,
                            order_scale=order_scale, points_entries=points_entries))
    for bar in bars.values():
        bar.render_finish()
    if result.created:
        click.echo(f"Loaded {result.customers:,} customers, {result.orders:,} orders, "
                   f"{result.staff} staff, {result.tags} tags, {result.members:,} members with "
                   f"{result.points_entries:,} points entries, {result.rewards} rewards.")
    else:
        click.echo("Demo data was already loaded; the admin password has been reset.")
    click.echo("")
    base = _base_url()
    click.echo(f"Sign in at {base}/login")
    click.echo(f"  admin:   username {result.admin_username}   password {result.admin_password}")
    if result.staff_password:
        click.echo(f"  staff:   e.g. {result.sample_staff} (or any demo staff username)   "
                   f"password {result.staff_password}")
        click.echo(f"  manager: e.g. {result.sample_manager}, same password")
    mobile = _run(_sample_member_mobile())
    if mobile:
        click.echo(f"  member:  {base}/m/login with mobile {mobile}; the one-time code is "
                   "written to the server's log (CRM_SMS_BACKEND=console)")


async def _sample_member_mobile() -> str | None:
    """A demo member with points to show on the member page (a silver one, so there is a
    next tier to reach)."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.engine import raw

    rows = await raw("SELECT c.mobile FROM member m JOIN customer c ON c.id = m.customer "
                     "JOIN tier t ON t.id = m.tier WHERE c.mobile IS NOT NULL "
                     "ORDER BY t.position = 1 DESC, m.points_balance DESC LIMIT 1")
    return rows[0]["mobile"].removeprefix("+86") if rows else None


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.argument("username")
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "staff"]))
@click.option("--team", default=None)
@click.option("--email", default=None, help="where scheduled reports reach a manager or admin")
def user_create(username: str, password: str, role: str, team: str | None, email: str | None) -> None:
    """Create a staff account."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.staff.accounts import clean_email, create_user, set_email

    async def create() -> int:
        address = clean_email(email)  # checked before the account is made
        user_id = await create_user(username, password, role, team)
        if address:
            await set_email(user_id, address)
        return user_id

    try:
        user_id = _run(create())
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    click.echo(f"Created {role} {username.lower()} (id {user_id}).")


@user.command("deactivate")
@click.argument("username")
def user_deactivate(username: str) -> None:
    """Stop a staff account from signing in and end all of its sessions."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.staff.accounts import deactivate_by_username

    try:
        _run(deactivate_by_username(username))
    except NotFound:
        raise click.ClickException(f"no staff account {username!r}")
    click.echo(f"Deactivated {username.lower()}; their sessions have ended.")


@main.group()
def apikey() -> None:
    """API keys for integrations."""


@apikey.command("create")
@click.argument("name")
def apikey_create(name: str) -> None:
    """Create an API key; the key is the last line printed (it is stored hashed)."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.staff.accounts import create_api_key

    try:
        key = _run(create_api_key(name))
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    click.echo(f"API key '{name}' created. Keep it safe: it cannot be shown again.")
    click.echo(key)


@main.group()
def member() -> None:
    """Members of the loyalty programme."""


@member.command("login-link")
@click.argument("mobile")
def member_login_link(mobile: str) -> None:
    """Print a one-time sign-in link to the member page for this member (15 minutes)."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.audit.log import record
    from db.members import signin

    async def make() -> str:
        token, member_id = await signin.create_login_link(mobile)
        await record("member.login_link", actor="cli", target_type="member", target_id=member_id)
        return token

    try:
        token = _run(make())
    except ValidationFailed as exc:
        raise click.ClickException(f"{mobile}: {exc.errors.get('mobile', 'invalid')}") from None
    except NotFound:
        raise click.ClickException(f"{mobile}: no member has this mobile number") from None
    base = _base_url()
    click.echo(f"{base}/m/login/link/{token}")
    click.echo("Valid for 15 minutes, once.", err=True)


@main.command()
def recompute() -> None:
    """Recompute every customer's figures, lifecycle stage, RFM and rule tags now
    (the app also does this every night at CRM_NIGHTLY_AT)."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.customers.lifecycle import recompute_all

    result = _run(recompute_all())
    click.echo(f"Recomputed {result['customers']:,} customers in {result['seconds']} s.")


@main.command()
def doctor() -> None:
    """Check the database, migrations, PDF fonts, VAPID keys and settings."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from web.doctor import run_checks

    problems = _run(run_checks(click.echo))
    if problems:
        raise SystemExit(1)


@main.command("import")
@click.argument("kind", type=click.Choice(["customers", "orders"]))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", default=None, help='JSON: file column -> field, e.g. \'{"手机": "mobile"}\'')
@click.option("--channel", default="", help="channel of orders when the file has no channel column")
def import_file(kind: str, file: Path, mapping: str | None, channel: str) -> None:
    """Import customers or orders from a CSV (UTF-8 or GB18030) or XLSX file.

    Prints `created N, updated N, rejected N, unchanged N` and the rejected-rows file; exits
    non-zero, writing nothing, when the file cannot be read or a required column is missing.
    """
    import json

    # lazy: loads Piccolo and the tables (see the module doc)
    from db.imports.jobs import import_file as run_import

    overrides = None
    if mapping:
        try:
            overrides = json.loads(mapping)
        except ValueError as exc:
            raise click.ClickException(f"--mapping is not JSON: {exc}")
        if not isinstance(overrides, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in overrides.items()
        ):
            raise click.ClickException('--mapping must map column names to fields, e.g. {"手机": "mobile"}')
    if not file.is_file():
        raise click.ClickException(f"cannot read {file}: no such file")
    try:
        job = _run(run_import(kind, file.resolve(), overrides, channel))
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}")
    if job["status"] != "done":
        raise click.ClickException(f"import stopped: {job['error']}")
    click.echo(f"created {job['created']}, updated {job['updated']}, rejected {job['rejected']}, "
               f"unchanged {job['unchanged']}")
    click.echo(f"rejected rows: {job['rejects_path']}")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def samples(folder: Path) -> None:
    """Write sample files to try the import with: 客户.xlsx, 订单.xlsx and a GB18030 CSV."""
    # lazy: loads Piccolo and the tables (see the module doc)
    from db.imports.samples import write_samples

    for path in _run(write_samples(folder)):
        click.echo(str(path))


@main.command("report")
@click.argument("name")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="first day of the range")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="last day of the range")
@click.option("--channel", default=None, help="only orders of this channel (tmall, jd, …)")
@click.option("--team", default=None, help="only this team's customers (a team's number)")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the file to write: .pdf or .xlsx")
@click.option("--lang", default="zh-CN", type=click.Choice(["zh-CN", "en"]), help="the report's language")
def report(name: str, start: str, end: str, channel: str | None, team: str | None, out: Path,
           lang: str) -> None:
    """Write report NAME (summary, customers, retention, loyalty, followups) for a range of
    days as a PDF or an XLSX (by the extension of --out); prints the path and the page count.
    Covers the whole shop (or --team); recorded in the audit log."""
    from db.customers.scope import Scope
    from db.figures.filters import make_filter
    from db.figures.period import Period
    from reports.build import UnknownReport, build, report_named

    try:
        report_named(name)
    except UnknownReport as exc:
        raise click.ClickException(str(exc))
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "xlsx"):
        raise click.ClickException(f"--out must end in .pdf or .xlsx, not {out.name!r}")
    try:
        period = Period.parse(start, end)
        filt = make_filter(Scope.everything(), channel, team)
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"--{k}: {v}" for k, v in exc.errors.items()))
    built = _run(build(name, period, filt, fmt, lang=lang, actor="cli"))
    try:
        out.write_bytes(built.content)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"{out.resolve()} ({built.pages} pages)" if built.pages is not None else str(out.resolve()))
