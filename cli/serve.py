"""`echo-brain serve` without typer: the port opens before FastAPI is even imported.

`HEAD /` must answer within a second of launch, so this path imports uvicorn and nothing
else of weight: the app behind `api.server:app` (`api.front.Front`) is built after the port
opens, and checks the settings there (a bad one ends the process with exit 2, naming the
variable). The settings are read here only when `--host` or `--port` is not given, since
HOST and PORT (environment or `.env`) are theirs to parse. Any other argument (`--help`, a
typo) goes to the typer app, which explains it.

No open door: on an address other than loopback the settings are read (while the early
listener answers liveness only), and with no guest gate the server refuses to start (exit 2)
unless ECHO_ALLOW_ANONYMOUS=true (`core.gate`). The address is handed to the app as HOST, so
its Host allowlist knows it.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.early import EarlyListener

OPTIONS = {"--host": str, "--port": int, "--workers": int, "--log-level": str}


def parse(argv: list[str]) -> dict[str, object] | None:
    """`[--host H] [--port P] [--workers N] [--log-level L]`; None when anything else is there."""
    options: dict[str, object] = {}
    args = list(argv)
    while args:
        name, eq, value = args.pop(0).partition("=")
        if name not in OPTIONS or not (eq or args):
            return None
        raw = value if eq else args.pop(0)
        try:
            options[name] = OPTIONS[name](raw)
        except ValueError:
            return None
    workers = options.get("--workers", 1)
    if not isinstance(workers, int) or workers < 1:
        return None
    return options


def fast_serve(argv: list[str]) -> int | None:
    """Run the server; None = not ours (the typer app handles these arguments)."""
    options = parse(argv)
    if options is None:
        return None
    host, port = options.get("--host"), options.get("--port")
    if host is None or port is None:
        from cli.common import settings_or_exit

        settings = settings_or_exit()
        host = host or settings.host
        port = port or settings.port
    run(str(host), int(str(port)), int(str(options.get("--workers", 1))),
        str(options.get("--log-level", "info")))
    return 0


def run(host: str, port: int, workers: int, log_level: str) -> None:
    """uvicorn on `api.server:app` (no WebSocket routes: `ws="none"` skips that import).

    With one worker the port is bound and answering before uvicorn is even imported
    (`api.early`); uvicorn then serves the same socket.
    """
    os.environ["HOST"] = host  # the app (and every worker) reads where it listens
    if workers > 1:
        _log_to_stderr(log_level)
        refuse_open_door(host)
        import uvicorn

        uvicorn.run("api.server:app", host=host, port=port, workers=workers, log_level=log_level,
                    ws="none", timeout_graceful_shutdown=10)
        return
    from api.early import EarlyListener, bind
    from api.liveness import booting_ready

    try:
        sock = bind(host, port)
    except OSError as exc:
        from cli.common import report

        report(f"cannot listen on {host}:{port}: {exc}",
               f"{host}:{port} 포트를 열 수 없습니다: {exc}")
        raise SystemExit(1) from None
    listener = EarlyListener(sock, booting_ready).start()
    _log_to_stderr(log_level)
    try:  # meanwhile the listener answers liveness only: reading the settings takes a second
        refuse_open_door(host)
        _serve_socket(sock, listener, host, port, log_level)
    finally:
        listener.stop()
        sock.close()


def refuse_open_door(host: str) -> bool:
    """Exit 2 on a public address with no gate; True (and a warning) when ECHO_ALLOW_ANONYMOUS
    opens it on purpose."""
    from core.gate import check_open_door, is_loopback

    if is_loopback(host):
        return False  # nothing to read: the fast path stays fast
    from cli.common import report, settings_or_exit
    from core.errors import ConfigError

    try:
        open_door = check_open_door(settings_or_exit(), host)
    except ConfigError as exc:
        report(exc.message, exc.message_ko)
        raise SystemExit(2) from None
    if open_door:
        logging.getLogger("echo_brain").warning(
            "serving on %s with no token gate (ECHO_ALLOW_ANONYMOUS=true): anyone who reaches "
            "the port talks to the companion / 토큰 관문 없이 서비스합니다: 포트에 닿는 누구나 "
            "대화할 수 있습니다", host)
    return open_door


def _log_to_stderr(log_level: str) -> None:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _serve_socket(sock: socket.socket, listener: EarlyListener, host: str, port: int,
                  log_level: str) -> None:
    import uvicorn

    config = uvicorn.Config("api.server:app", host=host, port=port, log_level=log_level,
                            ws="none", timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    listener.done = lambda: server.started
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)  # uvicorn's code for a failed startup
