"""The port at once: a small ASGI front that answers liveness while the app is built behind it.

uvicorn opens the port only after the lifespan's startup, and importing FastAPI, pydantic and
the whole app takes seconds on a small CPU. `Front` answers `HEAD /`, `GET /`, `GET /health`
(and `GET /ready`: 503, booting) from the first moment; its lifespan builds the real app
(`api.app.create_app`) on a thread and runs that app's own lifespan, then hands it every
request. A request for anything else that arrives while the app is being built waits for it.
Importing this module imports only the standard library.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.liveness import early_answer, package_version

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("echo_brain")
BUILD_FAILED_EXIT = 3  # uvicorn's own exit code for a failed lifespan startup
CONFIG_EXIT = 2  # a bad setting, as `echo-brain serve` reports it


class Front:
    """Liveness at once; everything else by the app `factory` ("module:function") builds."""

    def __init__(self, factory: str, on_failure: Callable[[BaseException], None] | None = None,
                 booting_ready: Callable[[], dict[str, Any]] | None = None) -> None:
        self.factory = factory
        self.on_failure = on_failure or exit_on_failure
        self.booting_ready = booting_ready
        self.app: ASGIApp | None = None
        self._started: asyncio.Event | None = None
        self._inner: _InnerLifespan | None = None
        self._build: asyncio.Task[None] | None = None
        self._version: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        app = self.app
        if app is None and scope["type"] == "http" and self._answers_early(scope):
            await self._liveness(scope, send)
            return
        if app is None:
            app = await self._wait_for_app()
        await app(scope, receive, send)

    async def _wait_for_app(self) -> ASGIApp:
        if self._started is None:  # no lifespan (a server run with lifespan="off")
            self._started = asyncio.Event()
            self._build = asyncio.create_task(self._build_app({"type": "lifespan", "state": {}}))
        await self._started.wait()
        if self.app is None:
            raise RuntimeError("the app failed to start")
        return self.app

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._started = asyncio.Event()
        self._build = asyncio.create_task(self._build_app(scope))
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await self._shutdown()
        await send({"type": "lifespan.shutdown.complete"})

    async def _build_app(self, scope: Scope) -> None:
        """Import and build the app on a thread, then run its lifespan's startup."""
        started = self._started
        assert started is not None
        try:
            app = await asyncio.to_thread(self._make)
            inner = _InnerLifespan(app, scope)
            await inner.startup()
        except Exception as exc:
            self.on_failure(exc)
            started.set()  # waiting requests get an error, not a hang
            return
        self._inner, self.app = inner, app
        started.set()

    def _make(self) -> ASGIApp:
        module, _, name = self.factory.partition(":")
        app: ASGIApp = getattr(importlib.import_module(module), name)()
        self._version = getattr(app, "version", None) or package_version()
        return app

    async def _shutdown(self) -> None:
        if self._build is not None and not self._build.done():
            await asyncio.wait({self._build})
        if self._inner is not None:
            await self._inner.shutdown()

    def _answers_early(self, scope: Scope) -> bool:
        path, method = scope["path"], scope["method"]
        if path == "/":
            return method in ("GET", "HEAD")
        if path == "/ready":
            return method == "GET" and self.booting_ready is not None
        return path == "/health" and method == "GET"

    async def _liveness(self, scope: Scope, send: Send) -> None:
        """`/` and `/health` 200; `/ready` 503 with the booting document (Retry-After: 1)."""
        if self._version is None:
            self._version = package_version()
        status, headers, body = early_answer(scope["method"], scope["path"], self._version,
                                             self.booting_ready)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers]})
        await send({"type": "http.response.body", "body": body})


def exit_on_failure(exc: BaseException) -> None:
    """A bad setting or a broken install: say why and end the process, as uvicorn would.

    The port must not stay open answering `ok` for a server that will never be ready. A bad
    setting (`ConfigError`, both languages, naming the variable) exits 2 as `echo-brain serve`
    does when it finds it first; anything else exits 3, uvicorn's code for a failed startup.
    """
    from core.errors import ConfigError

    if isinstance(exc, ConfigError):
        message, message_ko, code = exc.message, exc.message_ko, CONFIG_EXIT
    else:
        message, message_ko = f"{type(exc).__name__}: {exc}", "앱을 시작하지 못했습니다"
        code = BUILD_FAILED_EXIT
    log.error("echo-brain cannot start: %s / %s", message, message_ko)
    sys.stderr.write(f"{message}\n{message_ko}\n")
    sys.stderr.flush()
    os._exit(code)


class _InnerLifespan:
    """Drives an ASGI app's lifespan protocol from the outside."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Run the app's startup; raise RuntimeError when it fails."""
        self.task = asyncio.create_task(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        reply = await self._reply()
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(reply.get("message") or "the app's startup failed")

    async def _run(self) -> None:
        await self.app(self.scope, self.inbox.get, self.outbox.put)

    async def shutdown(self) -> None:
        """Run the app's shutdown (frees the models)."""
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self._reply()

    async def _reply(self) -> Message:
        assert self.task is not None
        getter = asyncio.ensure_future(self.outbox.get())
        done, _ = await asyncio.wait({getter, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        error = self.task.exception()
        if error is not None:
            raise error
        return {"type": "lifespan.failed", "message": "the app's lifespan ended"}
