"""OpenAI API, streaming, metrics and remote circuits against real servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e_server import Server, run_server

STORY = "Tell me a short story about the sea."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One healthy demo-model server for this module."""
    with run_server(tmp_path_factory.mktemp("eco"), ECHO_MAX_TOKENS="32") as srv:
        srv.wait_ready()
        yield srv


@pytest.fixture(scope="module")
def sdk(server: Server) -> Iterator[OpenAI]:
    """The official OpenAI client on the server, closed afterwards (no socket left open)."""
    with OpenAI(base_url=server.url + "/v1", api_key="not-needed", max_retries=0) as client:
        yield client


def test_models_lists_the_four_ids(server: Server, sdk: OpenAI) -> None:
    ids = {m.id for m in sdk.models.list()}
    assert ids == {"echo-brain", "emotion", "creation", "self"}


@pytest.mark.parametrize("model", ["echo-brain", "self"])
def test_openai_client_gets_a_completion(server: Server, sdk: OpenAI, model: str) -> None:
    completion = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": STORY}], max_tokens=24
    )
    text = completion.choices[0].message.content or ""
    assert len(text.split()) >= 3
    assert completion.usage is not None and completion.usage.completion_tokens > 0


@pytest.mark.parametrize("model", ["echo-brain", "self"])
def test_openai_client_gets_a_stream(server: Server, sdk: OpenAI, model: str) -> None:
    stream = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": STORY}], max_tokens=24, stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert sum(1 for p in pieces if p) >= 5, pieces
    assert len("".join(pieces).split()) >= 3


def test_openai_errors_are_openai_shaped(server: Server, sdk: OpenAI) -> None:
    import openai

    with pytest.raises(openai.NotFoundError) as info:
        sdk.chat.completions.create(
            model="gpt-9", messages=[{"role": "user", "content": "hi"}]
        )
    assert "echo-brain" in str(info.value)
    response = httpx.post(
        server.url + "/v1/chat/completions", json={"model": "self", "messages": []}
    )
    assert response.status_code == 422 and response.json()["error"]["message_ko"]


def test_ask_stream_sends_deltas_from_every_circuit_before_the_document(server: Server) -> None:
    events: list[tuple[str, dict[str, object]]] = []
    with httpx.stream(
        "POST", server.url + "/api/ask", json={"prompt": STORY, "stream": True}, timeout=120
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
    kinds = [e for e, _ in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    deltas = [d for e, d in events if e == "delta"]
    assert {d["circuit"] for d in deltas} == {"self", "emotion", "creation"}
    doc = events[-1][1]
    for name, circuit in doc["circuits"].items():  # type: ignore[union-attr]
        streamed = "".join(str(d["text"]) for d in deltas if d["circuit"] == name)
        assert streamed.strip() == circuit["text"]


def test_metrics_is_valid_prometheus_text(server: Server) -> None:
    httpx.post(server.url + "/api/ask", json={"prompt": "Hello"}, timeout=120)
    text = httpx.get(server.url + "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "echo_http_requests",
        "echo_http_request_seconds",
        "echo_circuit_tokens",
        "echo_circuit_queue_depth",
        "echo_circuit_state",
        "echo_memory_lines",
        "echo_replay_duration_seconds",
        "echo_circuit_seconds",
    ):
        assert name in families, name
    routes = {s.labels.get("route") for s in families["echo_http_requests"].samples}
    assert "/api/ask" in routes
    tokens = [s.value for s in families["echo_circuit_tokens"].samples if s.name.endswith("_total")]
    assert sum(tokens) > 0
    ready = [
        s
        for s in families["echo_circuit_state"].samples
        if s.labels["state"] == "ready" and s.value == 1
    ]
    assert len(ready) == 3


def test_a_remote_circuit_answers_through_another_server(tmp_path: Path) -> None:
    with run_server(tmp_path / "upstream", ECHO_MAX_TOKENS="24") as upstream:
        upstream.wait_ready()
        remote = {"ECHO_SELF_MODEL": f"{upstream.url}/v1#self", "ECHO_MAX_TOKENS": "24",
                  "ECHO_ORIGIN_TOKEN": "eco-origin-token"}  # /ready in full
        with run_server(tmp_path / "front", **remote) as front:
            front.wait_ready()
            doc = httpx.post(front.url + "/api/ask", json={"prompt": STORY}, timeout=120).json()
            assert doc["circuits"]["self"]["status"] == "ok" and doc["circuits"]["self"]["text"]
            ready = front.ready().json()
            assert ready["circuits"]["self"]["backend"].startswith("remote:")
            upstream.proc.terminate()
            upstream.proc.wait(timeout=20)
            doc = httpx.post(front.url + "/api/ask", json={"prompt": STORY}, timeout=120).json()
            assert doc["circuits"]["self"]["status"] == "error"
            assert doc["circuits"]["emotion"]["status"] == "ok"
            assert doc["circuits"]["creation"]["status"] == "ok"


def test_synthesize_merge_has_the_self_circuit_write_the_answer(tmp_path: Path) -> None:
    with run_server(tmp_path, ECHO_MERGE="synthesize", ECHO_MAX_TOKENS="32") as srv:
        srv.wait_ready()
        doc = httpx.post(srv.url + "/api/ask", json={"prompt": STORY}, timeout=120).json()
        texts = [c["text"] for c in doc["circuits"].values()]
        assert all(c["status"] == "ok" for c in doc["circuits"].values())
        concat = "\n\n".join(doc["circuits"][n]["text"] for n in ("self", "emotion", "creation"))
        assert doc["reply"] and doc["reply"] != concat
        assert doc["reply"] not in texts  # a fourth generation, not one of the drafts
