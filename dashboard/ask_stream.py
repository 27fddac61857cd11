"""`POST /api/ask` with `"stream": true` in a thread: SSE events to a queue (no Tk)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from dashboard.pollers import Message, auth_headers

TOKEN_HINT = "set --token or ECHO_TOKEN · --token 또는 ECHO_TOKEN으로 설정하세요"


@dataclass
class AskEvent:
    """One thing that happened to a streamed question: delta, done, or error."""

    kind: str
    circuit: str = ""
    text: str = ""
    doc: dict[str, Any] = field(default_factory=dict)


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from server-sent-event lines (comments and ids ignored)."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)


def to_event(event: str, data: str) -> AskEvent | None:
    """The AskEvent for one SSE event of /api/ask (unknown events: None)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return AskEvent("error", text=f"bad event data: {data[:200]}")
    if event == "delta":
        return AskEvent("delta", circuit=str(doc.get("circuit", "")), text=str(doc.get("text", "")))
    if event == "done":
        return AskEvent("done", doc=doc)
    if event == "error":
        return AskEvent("error", text=error_text(doc.get("error") or {}), doc=doc)
    return None


def error_text(error: dict[str, Any], status: int | None = None) -> str:
    """One bilingual line for the server's error body; 401 says where the token goes."""
    status = status or error.get("status")
    parts = [
        f"{status}" if status else "",
        str(error.get("message") or ""),
        str(error.get("message_ko") or ""),
    ]
    if status == 401:
        parts.append(TOKEN_HINT)
    return " · ".join(p for p in parts if p)


class AskStream(threading.Thread):
    """Streams one question; posts ("ask", AskEvent) messages, then ("ask_end", None)."""

    def __init__(self, url: str, token: str | None, prompt: str, out: queue.Queue[Message]) -> None:
        super().__init__(daemon=True, name="AskStream")
        self.url, self.token, self.prompt, self.out = url.rstrip("/"), token, prompt, out
        self.cancelled = threading.Event()

    def run(self) -> None:
        """Send the prompt and relay the events."""
        try:
            self._stream()
        except httpx.HTTPError as exc:
            text = f"unreachable {self.url} ({type(exc).__name__}) · 서버에 연결할 수 없습니다"
            self.out.put(("ask", AskEvent("error", text=text)))
        finally:
            self.out.put(("ask_end", None))

    def _stream(self) -> None:
        body = {"prompt": self.prompt, "stream": True}
        timeout = httpx.Timeout(10.0, read=600.0)
        with httpx.Client(timeout=timeout, headers=auth_headers(self.token)) as client:
            with client.stream("POST", self.url + "/api/ask", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self.out.put(("ask", AskEvent("error", text=_failure(response))))
                    return
                for name, data in parse_sse(response.iter_lines()):
                    if self.cancelled.is_set():
                        return
                    event = to_event(name, data)
                    if event is not None:
                        self.out.put(("ask", event))


def _failure(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {"message": response.text[:300]}
    return error_text(error, response.status_code)
