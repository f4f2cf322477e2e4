"""db/settings.py: the one Settings, read from the environment."""

import pytest

from db.settings import Settings


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
