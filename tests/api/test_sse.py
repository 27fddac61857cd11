"""Streams end cleanly on any failure: an error event, `[DONE]` for /v1, and a log line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.sse import Emit, relay
from core.settings import load_settings


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """An app on the echo backends whose brain fails with a non-domain error."""
    for circuit in ("EMOTION", "CREATION", "SELF"):
        monkeypatch.setenv(f"ECHO_{circuit}_MODEL", "echo")
    with TestClient(create_app(load_settings())) as client:

        async def broken_ask(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the brain broke")

        monkeypatch.setattr(client.app.state.runtime.brain, "ask", broken_ask)  # type: ignore[attr-defined]
        yield client


def data_lines(client: TestClient, path: str, body: dict[str, Any]) -> list[str]:
    """The `data:` payloads of a streamed answer, in order."""
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def test_v1_stream_ends_with_an_error_event_then_done(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"model": "echo-brain", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with caplog.at_level(logging.ERROR):
        lines = data_lines(client, "/v1/chat/completions", body)
    assert lines[-1] == "[DONE]"
    error = json.loads(lines[-2])["error"]
    assert error["code"] == "internal" and error["status"] == 500 and error["message_ko"]
    assert "the brain broke" not in lines[-2]  # no internals reach the client
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged, caplog.text


def test_ask_stream_ends_with_an_error_event(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        with client.stream("POST", "/api/ask", json={"prompt": "hi", "stream": True}) as response:
            text = response.read().decode()
    assert "event: error" in text and '"code": "internal"' in text
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


def test_relay_awaits_a_producer_that_fails_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    async def produce(emit: Emit) -> None:
        await emit("first")
        raise ValueError("lost before")

    async def collect() -> list[str]:
        return [item async for item in relay(produce)]

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(collect()) == ["first"]
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


def test_a_client_that_leaves_cancels_the_producer(caplog: pytest.LogCaptureFixture) -> None:
    cancelled = asyncio.Event()

    async def produce(emit: Emit) -> None:
        await emit("one")
        try:
            await asyncio.sleep(30)
        finally:
            cancelled.set()

    async def leave_early() -> None:
        stream = relay(produce)
        assert await anext(stream) == "one"
        await stream.aclose()
        await asyncio.wait_for(cancelled.wait(), 5)

    with caplog.at_level(logging.ERROR):
        asyncio.run(leave_early())
    assert not caplog.records  # a cancellation is not an error
