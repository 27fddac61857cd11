"""Origin authentication: constant-time token checks, the access gate, fail-closed refusals."""

from __future__ import annotations

import hmac
import logging

import pytest

from core.echo_brain import EchoBrain
from core.errors import ConfigError, EchoBrainError, Forbidden, Unauthorized
from core.origin import (
    ANONYMOUS_CALLER,
    ORIGIN_CALLER,
    Caller,
    TokenRedactingFilter,
    authenticate,
    bearer_token,
    guest,
    is_origin_user,
    redact,
    require_origin,
)
from core.settings import Settings, load_settings

ORIGIN = "origin-s3cret-token"
ACCESS = "access-t0ken-value"


def settings(
    origin_token: str | None = ORIGIN, access_token: str | None = None, **more: object
) -> Settings:
    return load_settings(origin_token=origin_token, access_token=access_token, **more)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {ORIGIN}", True),
        (f"bearer {ORIGIN}", True),
        (f"BEARER {ORIGIN}", True),
        (f"  Bearer   {ORIGIN}  ", True),
        (ORIGIN, False),
        (f"Basic {ORIGIN}", False),
        (f"Token {ORIGIN}", False),
        (f"Bearer{ORIGIN}", False),
        ("Bearer", False),
        ("Bearer ", False),
        ("", False),
        (None, False),
        (f"Bearer {ORIGIN}x", False),
        (f"Bearer {ORIGIN[:-1]}", False),
        (f"Bearer {ORIGIN.upper()}", False),
        (f"Bearer {ORIGIN} {ORIGIN}", False),
        (f"Bearer {ACCESS}", False),
        ("Bearer 오리진", False),
    ],
)
def test_is_origin_user_parses_bearer_header(header: str | None, expected: bool) -> None:
    assert is_origin_user(header, settings(access_token=ACCESS)) is expected


@pytest.mark.parametrize("configured", [None, "", "   "])
@pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer None", "Bearer    ", "Bearer  "])
def test_unset_origin_token_is_never_the_origin(configured: str | None, header: str | None) -> None:
    assert is_origin_user(header, settings(origin_token=configured)) is False


def test_origin_token_is_compared_with_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return False  # the answer must come from compare_digest alone

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert is_origin_user(f"Bearer {ORIGIN}", settings()) is False
    assert calls == [(ORIGIN.encode(), ORIGIN.encode())]


def test_compare_digest_runs_even_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert is_origin_user(None, settings()) is False
    assert len(calls) == 1


def test_bearer_token_extraction() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer\tabc") is None  # the scheme is separated by a space
    assert bearer_token("Bearer a b") is None
    assert bearer_token(None) is None


def test_without_access_token_everyone_passes() -> None:
    s = settings()
    assert authenticate(None, s) == ANONYMOUS_CALLER
    assert authenticate("Bearer wrong", s) == ANONYMOUS_CALLER
    assert authenticate(f"Bearer {ORIGIN}", s) == ORIGIN_CALLER


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong", ACCESS, f"Basic {ACCESS}"])
def test_access_gate_refuses_missing_or_wrong_token(header: str | None) -> None:
    with pytest.raises(Unauthorized) as info:
        authenticate(header, settings(access_token=ACCESS))
    err = info.value
    assert err.message and err.message_ko
    for secret in (ACCESS, ORIGIN, "wrong"):
        assert secret not in err.message and secret not in err.message_ko
        assert secret not in str(err)


def test_access_gate_lets_access_and_origin_tokens_through() -> None:
    s = settings(access_token=ACCESS)
    assert authenticate(f"Bearer {ACCESS}", s) == guest("guest")
    assert authenticate(f"Bearer {ORIGIN}", s) == ORIGIN_CALLER


def test_access_gate_without_origin_token_still_accepts_access_token() -> None:
    s = settings(origin_token=None, access_token=ACCESS)
    assert authenticate(f"Bearer {ACCESS}", s) == guest("guest")
    with pytest.raises(Unauthorized):
        authenticate(f"Bearer {ORIGIN}", s)


@pytest.mark.parametrize(
    ("origin_token", "access_token", "header", "outcome"),
    [
        (ORIGIN, None, f"Bearer {ORIGIN}", "origin"),
        (ORIGIN, ACCESS, f"Bearer {ORIGIN}", "origin"),
        (ORIGIN, None, None, Unauthorized),
        (ORIGIN, None, "Bearer wrong", Unauthorized),
        (ORIGIN, ACCESS, None, Unauthorized),
        (ORIGIN, ACCESS, "Bearer wrong", Unauthorized),
        (ORIGIN, ACCESS, f"Bearer {ACCESS}", Forbidden),
        (None, None, None, Forbidden),
        (None, None, f"Bearer {ORIGIN}", Forbidden),
        (None, ACCESS, f"Bearer {ACCESS}", Forbidden),
        (None, ACCESS, None, Unauthorized),
    ],
)
def test_require_origin(
    origin_token: str | None, access_token: str | None, header: str | None, outcome: object
) -> None:
    s = settings(origin_token=origin_token, access_token=access_token)
    if outcome == "origin":
        assert require_origin(header, s) == ORIGIN_CALLER
        return
    assert isinstance(outcome, type)
    with pytest.raises(EchoBrainError) as info:
        require_origin(header, s)
    assert type(info.value) is outcome  # Forbidden is not an Unauthorized and vice versa
    assert ORIGIN not in info.value.message + info.value.message_ko
    assert ACCESS not in info.value.message + info.value.message_ko


@pytest.mark.parametrize(
    ("access_token", "header", "outcome"),
    [
        (None, f"Bearer {ORIGIN}", "origin"),
        (None, None, Forbidden),
        (None, "Bearer wrong", Forbidden),
        (ACCESS, f"Bearer {ACCESS}", Forbidden),
        (ACCESS, None, Unauthorized),
        (ACCESS, f"Bearer {ORIGIN}", "origin"),
    ],
)
def test_a_creation_command_needs_the_origin(
    access_token: str | None, header: str | None, outcome: object
) -> None:
    s = settings(access_token=access_token)

    def order_creation() -> Caller:  # what every route does: authenticate, then authorize
        caller = authenticate(header, s)
        EchoBrain(s, {}).authorize("create project: x", caller)
        return caller

    if outcome == "origin":
        assert order_creation().is_origin
        return
    assert isinstance(outcome, type)
    with pytest.raises(outcome):
        order_creation()


def test_redact_replaces_every_configured_token() -> None:
    s = settings(origin_token="abc", access_token="abcdef")
    text = "origin=abc access=abcdef header='Bearer abcdef' again abc"
    cleaned = redact(text, s)
    assert "abc" not in cleaned
    assert cleaned == "origin=*** access=*** header='Bearer ***' again ***"


def test_redact_without_tokens_changes_nothing() -> None:
    assert redact("Bearer something", settings(origin_token=None)) == "Bearer something"


def test_log_filter_redacts_tokens(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.origin.redaction")
    handler_filter = TokenRedactingFilter(settings(access_token=ACCESS))
    logger.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("header was %s and %s", f"Bearer {ORIGIN}", ACCESS)
    finally:
        logger.removeFilter(handler_filter)
    assert ORIGIN not in caplog.text and ACCESS not in caplog.text
    assert "header was Bearer *** and ***" in caplog.text



def test_named_guests_each_get_their_name() -> None:
    s = settings(guest_tokens="ana:tok-ana-1234, bo_2:tok-bo-5678", access_token=ACCESS)
    assert authenticate("Bearer tok-ana-1234", s) == guest("ana")
    assert authenticate("Bearer tok-bo-5678", s).name == "bo_2"
    assert authenticate(f"Bearer {ACCESS}", s) == guest("guest")
    assert authenticate(f"Bearer {ORIGIN}", s) == ORIGIN_CALLER
    assert authenticate(f"Bearer {ORIGIN}", s).kind == "origin"
    assert authenticate("Bearer tok-ana-1234", s).kind == "guest"
    with pytest.raises(Unauthorized):
        authenticate("Bearer tok-ana", s)
    # a guest token alone closes the gate: no anonymous caller gets through
    with pytest.raises(Unauthorized):
        authenticate(None, settings(guest_tokens="ana:tok-ana-1234"))
    assert authenticate(None, settings()).kind == "anonymous"


@pytest.mark.parametrize("value", [
    "ana", "ana:", ":tok", "Ana:tok", "origin:tok", "anonymous:tok", "a b:tok",
    "ana:tok,ana:tok2", "ana:to k",
])
def test_bad_guest_tokens_fail_at_start_without_the_token(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(guest_tokens=value)
    assert "ECHO_GUEST_TOKENS" in str(info.value)
    assert "tok2" not in str(info.value) and "to k" not in str(info.value)


def test_guest_tokens_are_redacted() -> None:
    s = settings(guest_tokens="ana:tok-ana-1234")
    assert redact("say tok-ana-1234 now", s) == "say *** now"
