"""Who may reach the port: the open-door refusal and the names the Host allowlist accepts.

`echo-brain serve` on an address other people can reach, with no guest gate
(ECHO_GUEST_TOKENS or ECHO_ACCESS_TOKEN), would let anyone talk to the companion and reach
what it remembers: it refuses to start unless ECHO_ALLOW_ANONYMOUS=true says so on purpose.
The origin token alone does not close that door (anonymous callers still reach /api/ask).

ECHO_ALLOWED_HOSTS guards against DNS rebinding: a web page on another site that makes a
browser resolve its own name to this server sends its own name as the Host header. Loopback
names (localhost, 127.0.0.1, [::1]) are always accepted: a browser sends them only for a page
that was itself loaded from this machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError
from llm.loopback import is_loopback

if TYPE_CHECKING:  # importing pydantic costs `echo-brain serve` time before its port opens
    from core.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def open_door_error(host: str) -> ConfigError:
    """The refusal of a public bind without a gate, in both languages, naming the settings."""
    return ConfigError(
        f"Refusing to serve on {host} with no access gate: anyone who reaches the port could "
        "talk to the companion in the origin's memory. Set ECHO_GUEST_TOKENS ('name:token,...') "
        "or ECHO_ACCESS_TOKEN, or listen on 127.0.0.1 (HOST or --host), or set "
        "ECHO_ALLOW_ANONYMOUS=true to open the door on purpose. ECHO_ORIGIN_TOKEN alone does "
        "not close it: callers without a token still reach /api/ask.",
        f"접근 관문 없이 {host}에서 서비스하기를 거부합니다: 포트에 닿는 누구나 오리진의 기억 속 "
        "동반자와 대화할 수 있게 됩니다. ECHO_GUEST_TOKENS('이름:토큰,...') 또는 "
        "ECHO_ACCESS_TOKEN을 설정하거나, 127.0.0.1에서 듣게 하거나(HOST 또는 --host), 일부러 "
        "문을 열려면 ECHO_ALLOW_ANONYMOUS=true로 설정하세요. ECHO_ORIGIN_TOKEN만으로는 닫히지 "
        "않습니다: 토큰 없는 호출자도 /api/ask에 닿습니다.",
    )


def check_open_door(settings: Settings, host: str) -> bool:
    """Raise ConfigError for a public bind with no gate; True when the door is open on purpose."""
    if is_loopback(host) or settings.gated:
        return False
    if not settings.allow_anonymous:
        raise open_door_error(host)
    return True


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The Host names to accept (lower case, no port); None = any.

    ECHO_ALLOWED_HOSTS: '*' = any; a list = those names and the loopback names (an entry
    '*.example.com' accepts every subdomain); '' = the loopback names when the server listens
    on a loopback address, any otherwise.
    """
    names = {n.strip().lower().rstrip(".") for n in settings.allowed_hosts.split(",")}
    names.discard("")
    if "*" in names:
        return None
    if names:
        return frozenset(n.strip("[]") for n in names) | LOOPBACK_NAMES
    return LOOPBACK_NAMES if is_loopback(settings.host) else None


def host_name(header: str) -> str:
    """The name of a Host header value: lower case, without the port or IPv6 brackets."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(header: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a request's Host header is one the server answers to."""
    if allowed is None:
        return True
    if not header:
        return False
    name = host_name(header).rstrip(".")
    if name in allowed or is_loopback(name):
        return True
    return any(p.startswith("*.") and name.endswith(p[1:]) for p in allowed)
