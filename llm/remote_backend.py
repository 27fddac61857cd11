"""A circuit served elsewhere through an OpenAI-compatible `/v1` API (vLLM, llama-server,
Ollama or another Echo Brain), streamed with httpx."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from llm.backend import Backend, BackendError, Generation
from llm.loopback import is_loopback

log = logging.getLogger(__name__)


class RemoteBackend(Backend):
    """POST {base}/chat/completions with stream=true; each SSE chunk's delta is a chunk."""

    kind: ClassVar[str] = "remote"
    supports_json_schema: ClassVar[bool] = True

    def __init__(self, base_url: str, model: str, *, timeout_s: float = 120.0,
                 api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:  # never the key
        return f"RemoteBackend({self.describe()!r}, api_key={'***' if self._headers else None})"

    @classmethod
    def from_spec(cls, spec: str, *, timeout_s: float = 120.0,
                  api_key: str | None = None) -> RemoteBackend:
        """Parse `http://host:port/v1#model`; `api_key` is sent as `Authorization: Bearer`."""
        base, _, model = spec.partition("#")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BackendError(f"not an http(s) URL: {base!r} / 올바른 URL이 아닙니다")
        return cls(base, model or "default", timeout_s=timeout_s, api_key=api_key)

    @property
    def plaintext_abroad(self) -> bool:
        """True when prompts (with remembered lines) cross the network unencrypted."""
        parts = urlsplit(self.base_url)
        return parts.scheme == "http" and not is_loopback(parts.hostname or "")

    def load(self) -> None:
        """Open the connection pool and probe `/models` (a failed probe is only a warning)."""
        if self.plaintext_abroad and self.base_url not in _WARNED:
            _WARNED.add(self.base_url)
            log.warning(
                "remote circuit %s is plain http on another machine: prompts, remembered lines "
                "included, and the API key cross the network unencrypted; use https / 원격 회로가 "
                "암호화되지 않은 http입니다: 기억이 담긴 프롬프트가 그대로 전송됩니다. https를 "
                "쓰세요", self.describe())
        self._client = httpx.Client(timeout=self.timeout, headers=self._headers)
        try:
            self._client.get(self.base_url + "/models", timeout=5.0)
        except httpx.HTTPError as exc:
            log.warning("remote circuit %s not reachable yet: %s", self.describe(), exc)

    def stream(self, gen: Generation) -> Iterator[str]:
        """Stream the remote completion; connection errors and 5xx become BackendError."""
        if self._client is None:
            raise BackendError("remote backend is not loaded")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": gen.messages,
            "stream": True,
            "max_tokens": gen.max_tokens,
        }
        if gen.temperature is not None:
            body["temperature"] = gen.temperature
        if gen.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "plan", "schema": gen.json_schema},
            }
        try:
            with self._client.stream("POST", self.base_url + "/chat/completions", json=body) as r:
                if r.status_code >= 400:
                    r.read()
                    raise BackendError(
                        f"{self.describe()} answered {r.status_code}: {r.text[:200]}"
                    )
                yield from _deltas(r.iter_lines(), gen)
        except httpx.HTTPError as exc:
            raise BackendError(
                f"{self.describe()} unreachable: {exc} / 원격 회로에 연결할 수 없습니다"
            ) from exc

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def describe(self) -> str:
        """Host and model, without any path secrets or query."""
        parts = urlsplit(self.base_url)
        return f"remote:{parts.scheme}://{parts.hostname}:{parts.port or ''}#{self.model}"


_WARNED: set[str] = set()  # base URLs already warned about: once per process, not per restart


def _deltas(lines: Iterator[str], gen: Generation) -> Iterator[str]:
    for line in lines:
        if gen.cancel.is_set():
            return
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            continue
        if "error" in chunk:
            raise BackendError(f"remote error: {str(chunk['error'])[:200]}")
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text
