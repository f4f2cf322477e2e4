"""db/settings.py: the one Settings, read from the environment."""

import ipaddress
from pathlib import Path

import pytest

from db.settings import Settings, definitions


def test_trusted_proxies_default_to_this_machine(monkeypatch):
    monkeypatch.delenv("CRM_TRUSTED_PROXIES", raising=False)
    assert Settings.from_env().trusted_proxies == ("127.0.0.1/32", "::1/128")


def test_trusted_proxies_are_a_comma_separated_list_of_cidrs(monkeypatch):
    monkeypatch.setenv("CRM_TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.7 ,FD00::/8,")
    assert Settings.from_env().trusted_proxies == ("10.0.0.0/8", "192.168.1.7", "fd00::/8")


def test_a_trusted_proxy_that_is_no_address_fails_at_start_up(monkeypatch):
    monkeypatch.setenv("CRM_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")
    with pytest.raises(ValueError, match="CRM_TRUSTED_PROXIES"):
        Settings.from_env()


def _readme_settings() -> dict[str, str]:
    """The README's settings table: variable -> its default cell (rows naming two variables,
    `A` / `B` with `a` / `b`, give one entry each)."""
    rows = {}
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for line in text.splitlines():
        if not line.startswith("| `CRM_"):
            continue
        names, default = [cell.strip() for cell in line.strip("|").split("|")[:2]]
        names, defaults = names.split(" / "), default.split(" / ")
        for i, name in enumerate(names):
            rows[name.strip("`")] = defaults[i] if len(defaults) == len(names) else default
    return rows


def test_the_readme_lists_every_setting_with_its_default():
    readme = _readme_settings()
    defined = {d["env"]: d for d in definitions()}
    # CRM_PORT is `crm serve`'s --port option (click reads it), not a server setting.
    assert set(readme) == set(defined) | {"CRM_PORT"}
    for env, d in defined.items():
        cell = readme[env]
        if d["default"] and cell.startswith("`") and cell.endswith("`") and cell.count("`") == 2:
            assert cell.strip("`") == d["default"], env


def test_each_setting_reads_its_variable_once_defined(monkeypatch):
    for d in definitions():
        monkeypatch.delenv(d["env"], raising=False)
    monkeypatch.setenv("CRM_SECRET_KEY", "k")
    plain = Settings.from_env()
    assert (plain.session_idle_minutes, plain.push_poll_seconds, plain.cookie_secure) == (120, 5.0, True)
    monkeypatch.setenv("CRM_PUSH_MAX_ATTEMPTS", "0")
    monkeypatch.setenv("CRM_PUSH_SENDER", "OFF")
    monkeypatch.setenv("CRM_BASE_URL", " https://crm.example.com/ ")
    changed = Settings.from_env()
    assert (changed.push_max_attempts, changed.push_sender, changed.base_url) == (
        1, False, "https://crm.example.com")
    assert "'k'" not in repr(changed)  # secrets stay out of logs
    monkeypatch.setenv("CRM_ADMIN_2FA", "sometimes")
    with pytest.raises(ValueError, match="CRM_ADMIN_2FA must be 'required' or 'optional'"):
        Settings.from_env()


def test_trusted_networks_are_parsed_once_in_the_settings(monkeypatch):
    monkeypatch.setenv("CRM_TRUSTED_PROXIES", "10.0.0.0/8")
    assert Settings.from_env().trusted_networks == (ipaddress.ip_network("10.0.0.0/8"),)
