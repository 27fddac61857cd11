"""The port before uvicorn: a bound socket answers liveness from a thread, then hands over."""

from __future__ import annotations

import httpx

from api.early import EarlyListener, bind
from api.liveness import booting_ready


def test_the_early_listener_answers_liveness_and_stops_when_told() -> None:
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    started = [False]
    listener = EarlyListener(sock, booting_ready)
    listener.done = lambda: started[0]
    listener.start()
    try:
        head = httpx.head(url + "/", timeout=5)
        assert head.status_code == 200 and head.content == b""
        root = httpx.get(url + "/?probe=1", timeout=5).json()
        assert root["status"] == "ok" and root["booting"] is True and root["version"]
        assert httpx.get(url + "/health", timeout=5).json() == {"status": "ok"}
        ready = httpx.get(url + "/ready", timeout=5)
        assert ready.status_code == 503 and ready.headers["retry-after"] == "1"
        assert set(ready.json()["circuits"]) == {"emotion", "creation", "self"}
        other = httpx.post(url + "/api/ask", json={"prompt": "hi"}, timeout=5)
        assert other.status_code == 503 and other.json()["error"]["message_ko"]
        assert listener.answered == 5
        started[0] = True  # uvicorn is serving now: the thread lets go of the socket
        listener._thread.join(timeout=5)
        assert not listener._thread.is_alive()
    finally:
        listener.stop()
        sock.close()


def test_a_garbled_request_is_dropped_without_harm() -> None:
    import socket

    sock = bind("127.0.0.1", 0)
    listener = EarlyListener(sock).start()
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5) as raw:
            raw.sendall(b"\r\n\r\n")
            assert raw.recv(100) == b""  # closed, no answer
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        assert httpx.get(url + "/health", timeout=5).status_code == 200
    finally:
        listener.stop()
        sock.close()
