"""core.gate: what counts as loopback, the open-door refusal, the Host names accepted."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.gate import allowed_hosts, check_open_door, host_allowed, host_name, is_loopback
from core.settings import load_settings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "localhost", "LOCALHOST.", "::1",
                                  "[::1]", "app.localhost"])
def test_loopback_addresses_and_names(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.0.0.5", "192.0.2.2", "example.com",
                                  "localhost.example.com", "127.0.0.1.nip.io"])
def test_everything_else_is_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_a_public_bind_without_a_guest_gate_is_refused_in_both_languages() -> None:
    with pytest.raises(ConfigError) as refused:
        check_open_door(load_settings(origin_token="only-the-origin"), "0.0.0.0")
    for name in ("ECHO_GUEST_TOKENS", "ECHO_ACCESS_TOKEN", "ECHO_ALLOW_ANONYMOUS", "0.0.0.0"):
        assert name in refused.value.message and name in refused.value.message_ko
    assert "거부" in refused.value.message_ko


def test_a_gate_loopback_or_an_explicit_choice_lets_the_server_start() -> None:
    assert check_open_door(load_settings(), "127.0.0.1") is False
    assert check_open_door(load_settings(access_token="a-guest-token"), "0.0.0.0") is False
    assert check_open_door(load_settings(guest_tokens="mina:tok-1"), "::") is False
    assert check_open_door(load_settings(allow_anonymous=True), "0.0.0.0") is True


@pytest.mark.parametrize(("header", "name"), [
    ("localhost:8000", "localhost"), ("[::1]:8000", "::1"), ("[::1]", "::1"),
    ("Echo.Example.COM", "echo.example.com"), ("10.0.0.5:80", "10.0.0.5"), ("::1", "::1"),
])
def test_host_header_names(header: str, name: str) -> None:
    assert host_name(header) == name


def test_loopback_bind_accepts_only_loopback_names_by_default() -> None:
    allowed = allowed_hosts(load_settings(host="127.0.0.1"))
    assert allowed is not None
    for header in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "127.0.0.2"):
        assert host_allowed(header, allowed), header
    for header in ("attacker.example:8000", "localhost.attacker.example", "", None):
        assert not host_allowed(header, allowed), header


def test_a_public_bind_accepts_any_name_unless_a_list_is_set() -> None:
    assert allowed_hosts(load_settings(host="0.0.0.0")) is None
    assert allowed_hosts(load_settings(host="127.0.0.1", allowed_hosts="*")) is None
    allowed = allowed_hosts(load_settings(allowed_hosts="echo.example.com, *.proxy.runpod.net"))
    assert allowed is not None
    for header in ("echo.example.com", "abc123-8000.proxy.runpod.net", "localhost:8000"):
        assert host_allowed(header, allowed), header
    for header in ("proxy.runpod.net.attacker.example", "evil.example.com", "xproxy.runpod.net"):
        assert not host_allowed(header, allowed), header
