"""An OpenAI-compatible remote circuit that records every request body it is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Remote(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that records what it was sent and answers 'ok'."""

    bodies: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._send("application/json", b'{"object": "list", "data": []}')

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.bodies.append(self.rfile.read(length).decode("utf-8"))
        chunk = json.dumps({"choices": [{"delta": {"content": "ok"}}]})
        self._send("text/event-stream", f"data: {chunk}\n\ndata: [DONE]\n\n".encode())

    def _send(self, kind: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def recording_remote() -> Iterator[tuple[str, list[str]]]:
    """A running recording remote: its circuit spec (URL#model) and the bodies it got."""
    bodies: list[str] = []
    handler = type("Recording", (_Remote,), {"bodies": bodies})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1#fake", bodies
    finally:
        httpd.shutdown()
        httpd.server_close()
