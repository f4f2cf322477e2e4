"""Staff accounts: passwords, rate limits and sessions, tested on the domain functions."""

from datetime import timedelta

import pytest

from db.clock import now
from db.errors import RateLimited, ValidationFailed
from db.staff import accounts
from db.staff.tables import StaffSession, StaffUser
from tests.conftest import PASSWORD

IDLE, ABSOLUTE = timedelta(minutes=120), timedelta(hours=12)


async def test_passwords_are_hashed_with_argon2(make_user):
    user_id = await make_user("li.na")
    row = await StaffUser.select(StaffUser.password_hash).where(StaffUser.id == user_id).first()
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in row["password_hash"]


@pytest.mark.parametrize("password, message", [
    ("short", "at least 8 characters"),
    ("password123", "this password is too common"),
    ("qwertyuiop", "this password is too common"),
])
async def test_weak_passwords_are_refused(password, message):
    with pytest.raises(ValidationFailed) as err:
        await accounts.create_user("zhao.lei", password, "staff")
    assert err.value.errors["password"] == message
    assert await StaffUser.count() == 0


async def test_wrong_password_then_rate_limit_per_account(make_user):
    await make_user("li.na")
    for _ in range(accounts.ACCOUNT_LIMIT):
        with pytest.raises(ValidationFailed):
            await accounts.authenticate("li.na", "wrong-password", "10.0.0.1")
    # Even the right password is held back until the window passes.
    with pytest.raises(RateLimited):
        await accounts.authenticate("li.na", PASSWORD, "10.0.0.2")


async def test_rate_limit_per_address_across_accounts(make_user):
    await make_user("li.na")
    for i in range(accounts.ADDRESS_LIMIT):
        with pytest.raises(ValidationFailed):
            await accounts.authenticate(f"nobody{i}", "wrong-password", "10.9.9.9")
    with pytest.raises(RateLimited):
        await accounts.authenticate("li.na", PASSWORD, "10.9.9.9")
    assert (await accounts.authenticate("li.na", PASSWORD, "10.0.0.3")).username == "li.na"


async def test_unknown_user_and_wrong_password_look_the_same(make_user):
    await make_user("li.na")
    errors = []
    for name in ("li.na", "no.such.user"):
        with pytest.raises(ValidationFailed) as err:
            await accounts.authenticate(name, "wrong-password", "10.0.0.1")
        errors.append(err.value.errors)
    assert errors[0] == errors[1]


async def test_deactivated_user_cannot_sign_in_and_loses_sessions(make_user):
    user_id = await make_user("li.na")
    token = await accounts.start_session(user_id, "", "10.0.0.1", "test")
    await accounts.set_active(user_id, False)
    assert await accounts.load_session(token, IDLE, ABSOLUTE) is None
    with pytest.raises(ValidationFailed):
        await accounts.authenticate("li.na", PASSWORD, "10.0.0.1")


async def test_password_change_ends_every_session(make_user):
    user_id = await make_user("li.na")
    tokens = [await accounts.start_session(user_id, "", "10.0.0.1", "phone") for _ in range(2)]
    await accounts.change_password(user_id, PASSWORD, "a-new-long-passphrase")
    for token in tokens:
        assert await accounts.load_session(token, IDLE, ABSOLUTE) is None
    assert (await accounts.authenticate("li.na", "a-new-long-passphrase", "10.0.0.1")).id == user_id


async def test_idle_and_absolute_timeouts(make_user):
    user_id = await make_user("li.na")
    idle_token = await accounts.start_session(user_id, "", "", "")
    old_token = await accounts.start_session(user_id, "", "", "")
    stale = now() - IDLE - timedelta(minutes=1)
    await StaffSession.update({StaffSession.last_seen_at: stale}).where(
        StaffSession.token_hash == accounts._sha256(idle_token))
    await StaffSession.update({StaffSession.created_at: now() - ABSOLUTE - timedelta(minutes=1)}).where(
        StaffSession.token_hash == accounts._sha256(old_token))
    assert await accounts.load_session(idle_token, IDLE, ABSOLUTE) is None
    assert await accounts.load_session(old_token, IDLE, ABSOLUTE) is None
    assert await StaffSession.count() == 0


async def test_session_tokens_are_stored_hashed(make_user):
    user_id = await make_user("li.na")
    token = await accounts.start_session(user_id, "", "", "")
    rows = await StaffSession.select(StaffSession.token_hash)
    assert rows[0]["token_hash"] != token and len(rows[0]["token_hash"]) == 64


async def test_api_keys_are_stored_hashed_and_can_be_revoked():
    from db.staff.tables import ApiKey

    key = await accounts.create_api_key("tmall-sync")
    assert await accounts.api_key_name(key) == "tmall-sync"
    assert key not in str(await ApiKey.select())
    await accounts.revoke_api_key("tmall-sync")
    assert await accounts.api_key_name(key) is None
    assert await accounts.api_key_name("crm_not-a-key") is None
