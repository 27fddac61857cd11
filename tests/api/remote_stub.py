"""A small OpenAI-compatible server run with uvicorn on a free port, recording what it is sent:
a stand-in for a remote circuit (vLLM, llama-server) in end-to-end tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Recorded:
    """What the stub received: (method, path, headers, body) per request."""

    requests: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)

    def authorizations(self, path: str) -> list[str | None]:
        """The Authorization header of every request to a path."""
        return [h.get("authorization") for _, p, h, _ in self.requests if p == path]


def stub_app(recorded: Recorded, reply: str = "remote ok") -> Starlette:
    """GET /v1/models and a streaming POST /v1/chat/completions."""

    async def remember(request: Request) -> None:
        body = (await request.body()).decode("utf-8", "replace")
        recorded.requests.append((request.method, request.url.path, dict(request.headers), body))

    async def models(request: Request) -> Response:
        await remember(request)
        return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    async def chat(request: Request) -> Response:
        await remember(request)
        chunk = json.dumps({"choices": [{"index": 0, "delta": {"content": reply}}]})
        return Response(f"data: {chunk}\n\ndata: [DONE]\n\n", media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"])])


def local_address() -> str | None:
    """This machine's address on its network (not loopback), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # no packet is sent: only a route is chosen
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@contextmanager
def run_stub(host: str = "127.0.0.1") -> Iterator[tuple[int, Recorded]]:
    """The stub on a free port of `host`; (port, what it recorded)."""
    recorded = Recorded()
    with socket.socket() as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(stub_app(recorded), host=host, port=port, log_level="warning",
                            lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the stub did not start"
        time.sleep(0.02)
    try:
        yield port, recorded
    finally:
        server.should_exit = True
        thread.join(timeout=10)
