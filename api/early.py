"""The port before uvicorn: bound at launch, liveness answered from a thread until uvicorn serves.

Importing uvicorn alone (click, ssl, asyncio) takes 0.2 s on an idle 2-core machine and well
over a second on a busy one. `EarlyListener` binds the address with the standard library the
moment `echo-brain serve` starts and answers `HEAD /`, `GET /`, `GET /health` and `GET /ready`
(503, booting) with `api.liveness.early_answer`, one request per connection; uvicorn is then
given the same socket (`Server.run(sockets=[...])`) and the thread stops as soon as uvicorn
has started. A connection that arrives in between waits in the kernel's backlog, never
refused. Anything but liveness that the thread happens to accept gets 503 + Retry-After.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from api.liveness import early_answer, package_version

POLL_S = 0.02
READ_TIMEOUT_S = 2.0
MAX_HEAD = 16384


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on (host, port), as uvicorn would bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=backlog)


class EarlyListener:
    """Answers liveness on `sock` until `done()` is true (uvicorn has started)."""

    def __init__(self, sock: socket.socket,
                 booting_ready: Callable[[], dict[str, Any]] | None = None) -> None:
        self.sock = sock
        self.booting_ready = booting_ready
        self.done: Callable[[], bool] = lambda: False
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="early-listener", daemon=True)
        self._version = package_version()  # here, not on the thread: no import races uvicorn's

    def start(self) -> EarlyListener:
        """Start answering."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering (the socket stays open for uvicorn)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set() and not self.done():
            try:
                readable, _, _ = select.select([self.sock], [], [], POLL_S)
                if not readable or self.done():
                    continue
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                continue  # uvicorn took it (its loop made the socket non-blocking)
            except OSError:
                return  # the socket was closed
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.setblocking(True)
        conn.settimeout(READ_TIMEOUT_S)
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(parts) < 2:
                return
            method, path = parts[0], parts[1].split("?", 1)[0]
            status, headers, body = early_answer(method, path, self._version, self.booting_ready)
            lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                     *(f"{k}: {v}" for k, v in headers), "connection: close", "", ""]
            conn.sendall("\r\n".join(lines).encode("latin-1") + body)
            self.answered += 1
