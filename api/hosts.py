"""The Host allowlist (ECHO_ALLOWED_HOSTS): a request under a name the server does not answer
to gets 421 before any route runs, so a DNS-rebinding page cannot reach the API.

`/` and `/health` stay open to any Host: probes (RunPod's port check, Docker's HEALTHCHECK, a
load balancer) call them by IP or by a name we cannot know, and they tell nothing but that
the process lives and its version. `/ready` is not among them: it shows the circuits' states.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from core.gate import host_allowed

OPEN_PATHS = frozenset({"/", "/health"})
SHOWN_CHARS = 100


class HostAllowlist:
    """Answers 421 `bad_host` to an http request whose Host header is not allowed."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allowed is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        await refused(host)(scope, receive, send)


def refused(host: str) -> ASGIApp:
    """The bilingual 421 answer for a Host the server does not answer to."""
    shown = "".join(c for c in host[:SHOWN_CHARS] if c.isprintable()) or "(none)"
    return error_response(
        421,
        "bad_host",
        f"This server does not answer to the host name {shown!r}. If you reach it under that "
        "name on purpose, add it to ECHO_ALLOWED_HOSTS (comma-separated; '*.example.com' for "
        "subdomains, '*' for any).",
        f"이 서버는 {shown!r}라는 호스트 이름에 응답하지 않습니다. 일부러 그 이름으로 접속한다면 "
        "ECHO_ALLOWED_HOSTS에 추가하세요(쉼표로 구분, 하위 도메인은 '*.example.com', 모두 허용은 "
        "'*').",
    )
