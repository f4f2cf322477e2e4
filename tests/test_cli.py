"""The `crm` command line, as other code and checks rely on it."""

import asyncio

from click.testing import CliRunner

from db.staff.accounts import api_key_name
from db.staff.tables import StaffUser, Team
from web.cli import main


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_user_create_with_team_then_refuse_duplicates_and_weak_passwords():
    ok = run("user", "create", "Zhang.Wei", "--password", "a-long-passphrase", "--role", "manager",
             "--team", "华东门店组")
    assert ok.exit_code == 0, ok.output
    user = StaffUser.select().where(StaffUser.username == "zhang.wei").first().run_sync()
    team = Team.select().where(Team.id == user["team"]).first().run_sync()
    assert user["role"] == "manager" and team["name"] == "华东门店组"
    assert run("user", "create", "zhang.wei", "--password", "a-long-passphrase", "--role", "staff").exit_code != 0
    weak = run("user", "create", "li.na", "--password", "12345678", "--role", "staff")
    assert weak.exit_code != 0 and "too common" in weak.output
    assert run("user", "create", "x", "--password", "a-long-passphrase", "--role", "king").exit_code != 0


def test_apikey_create_prints_the_key_last():
    result = run("apikey", "create", "tmall-sync")
    assert result.exit_code == 0
    key = result.output.strip().splitlines()[-1]
    assert asyncio.run(api_key_name(key)) == "tmall-sync"


def test_migrate_is_idempotent():
    assert run("migrate").exit_code == 0
    assert "up to date" in run("migrate").output


def test_doctor_reports_each_check():
    result = CliRunner().invoke(main, ["doctor"])
    for name in ("database", "migrations", "PDF fonts", "VAPID keys"):
        assert name in result.output
    assert "all" in result.output and "applied" in result.output


def test_deactivate_ends_sessions():
    from datetime import timedelta

    from db.staff.accounts import load_session, start_session

    run("user", "create", "li.na", "--password", "a-long-passphrase", "--role", "staff")
    user = StaffUser.select().first().run_sync()
    token = asyncio.run(start_session(user["id"], "", "", ""))
    result = run("user", "deactivate", "LI.NA")
    assert result.exit_code == 0
    assert asyncio.run(load_session(token, timedelta(hours=1), timedelta(hours=2))) is None
    assert run("user", "deactivate", "nobody").exit_code != 0
