"""Origin authentication: who is calling, compared in constant time, fail closed.

`core/` knows nothing of HTTP: callers pass the raw `Authorization` header value
and get a `Caller` back, or one of the `core.errors` exceptions. Token values are
never put into a message, a log line or a return value.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from pydantic import SecretStr

from core.errors import Forbidden, Unauthorized
from core.settings import CIRCUIT_NAMES, Settings

REDACTED = "***"


ORIGIN = "origin"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the origin, a named guest, or anonymous (no valid token).

    `name` is 'origin' for the origin, the guest's name for a guest (ECHO_GUEST_TOKENS;
    ECHO_ACCESS_TOKEN is the guest 'guest') and 'anonymous' for a caller with no token.
    """

    is_origin: bool
    authenticated: bool
    name: str = ANONYMOUS

    @property
    def kind(self) -> str:
        """'origin', 'guest' or 'anonymous'."""
        if self.is_origin:
            return ORIGIN
        return "guest" if self.authenticated else ANONYMOUS


ORIGIN_CALLER = Caller(is_origin=True, authenticated=True, name=ORIGIN)
ANONYMOUS_CALLER = Caller(is_origin=False, authenticated=False, name=ANONYMOUS)


def guest(name: str) -> Caller:
    """A named guest."""
    return Caller(is_origin=False, authenticated=True, name=name)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


def _matches(token: str | None, secret: SecretStr | None) -> bool:
    """Constant-time comparison of a presented token with a configured secret."""
    if secret is None:
        return False
    expected = secret.get_secret_value().encode("utf-8")
    # Compare even when no token came, so timing does not reveal which case it was.
    presented = (token or "").encode("utf-8", errors="surrogatepass")
    return hmac.compare_digest(presented, expected) and token is not None


def is_origin_user(authorization: str | None, settings: Settings) -> bool:
    """True when the header carries the origin's token; always False when none is configured."""
    return _matches(bearer_token(authorization), settings.origin_token)


def _unauthorized() -> Unauthorized:
    return Unauthorized(
        "A valid token is required: send 'Authorization: Bearer <token>' with a guest "
        "token (ECHO_GUEST_TOKENS, ECHO_ACCESS_TOKEN) or the origin token.",
        "유효한 토큰이 필요합니다: 'Authorization: Bearer <토큰>' 헤더에 손님 토큰"
        "(ECHO_GUEST_TOKENS, ECHO_ACCESS_TOKEN) 또는 오리진 토큰을 담아 보내세요.",
    )


def _guest_named(token: str | None, settings: Settings) -> str | None:
    """The guest whose token this is; every guest token is compared (constant time each)."""
    found = None
    for name, value in settings.guests().items():
        if _matches(token, SecretStr(value)) and found is None:
            found = name
    return found


def authenticate(authorization: str | None, settings: Settings) -> Caller:
    """Who is calling; raise Unauthorized when a guest gate is set and no valid token came."""
    token = bearer_token(authorization)
    if _matches(token, settings.origin_token):
        return ORIGIN_CALLER
    name = _guest_named(token, settings)
    if name is not None:
        return guest(name)
    if settings.gated:
        raise _unauthorized()
    return ANONYMOUS_CALLER


def require_origin(authorization: str | None, settings: Settings) -> Caller:
    """Origin-only routes: 401 without a valid token, 403 for a non-origin or no origin token."""
    caller = authenticate(authorization, settings)
    if settings.origin_token is None:
        raise Forbidden(
            "This feature belongs to the origin and no origin token is configured "
            "(set ECHO_ORIGIN_TOKEN on the server to enable it).",
            "오리진 전용 기능인데 오리진 토큰이 설정되어 있지 않습니다 "
            "(서버에 ECHO_ORIGIN_TOKEN을 설정하면 쓸 수 있습니다).",
        )
    if caller.is_origin:
        return caller
    if caller.authenticated:
        raise Forbidden(
            "This feature belongs to the origin: a guest token is not enough.",
            "오리진 전용 기능입니다: 손님 토큰으로는 쓸 수 없습니다.",
        )
    raise _unauthorized()


def metrics_locked(settings: Settings) -> bool:
    """Whether /metrics needs a token: some token (origin, guest, access, metrics) is set."""
    return bool(settings.origin_token or settings.metrics_token or settings.gated)


def require_metrics_reader(authorization: str | None, settings: Settings) -> None:
    """/metrics: the origin's token or ECHO_METRICS_TOKEN once any token is configured.

    A guest's token gets 403: the counters tell about the origin's conversations (when, how
    long, how many tokens), which are not a guest's to read.
    """
    if not metrics_locked(settings):
        return
    token = bearer_token(authorization)
    # both compared every time (constant time, and no early answer that tells which it was)
    if _matches(token, settings.metrics_token) | _matches(token, settings.origin_token):
        return
    if _guest_named(token, settings) is not None:
        raise Forbidden(
            "/metrics is for the origin and the metrics scraper: send the origin token or "
            "ECHO_METRICS_TOKEN, not a guest token.",
            "/metrics는 오리진과 메트릭 수집기용입니다: 손님 토큰이 아니라 오리진 토큰이나 "
            "ECHO_METRICS_TOKEN을 보내세요.",
        )
    raise Unauthorized(
        "/metrics needs a token: send 'Authorization: Bearer <token>' with ECHO_METRICS_TOKEN "
        "(for a Prometheus scraper) or the origin token.",
        "/metrics에는 토큰이 필요합니다: 'Authorization: Bearer <토큰>' 헤더에 "
        "ECHO_METRICS_TOKEN(Prometheus 수집기용) 또는 오리진 토큰을 담아 보내세요.",
    )


def creation_forbidden() -> Forbidden:
    """The refusal a creation command (만들어줘) gets from anyone but the origin."""
    return Forbidden(
        "Only the origin may order the creation of a project "
        "(send the origin token as 'Authorization: Bearer <token>'). Nothing was written.",
        "프로젝트 생성은 오리진만 명령할 수 있습니다 "
        "('Authorization: Bearer <토큰>'으로 오리진 토큰을 보내세요). "
        "아무것도 쓰지 않았습니다.",
    )


def _secrets(settings: Settings) -> list[str]:
    values = [
        secret.get_secret_value()
        for secret in (settings.origin_token, settings.access_token, settings.metrics_token,
                       *(settings.guest_tokens, *_api_keys(settings)))
        if secret is not None
    ]
    values += list(settings.guests().values())
    return sorted({v for v in values if v}, key=len, reverse=True)


def _api_keys(settings: Settings) -> list[SecretStr | None]:
    return [getattr(settings, f"{name}_api_key", None) for name in CIRCUIT_NAMES]


def redact(text: str, settings: Settings) -> str:
    """Replace every configured token value in text by '***' (a safety net for logs)."""
    for value in _secrets(settings):
        text = text.replace(value, REDACTED)
    return text


class TokenRedactingFilter(logging.Filter):
    """A logging filter that redacts configured token values from every record."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redact it, and let the record through."""
        if _secrets(self._settings):
            message = record.getMessage()
            cleaned = redact(message, self._settings)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True
