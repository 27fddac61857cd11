"""End to end: a real uvicorn process, the real demo GGUF in all three circuits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e_server import Server, run_server

STORY = "Tell me a short story about the sea."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One healthy server with the demo model in every circuit, shared by this module."""
    with run_server(tmp_path_factory.mktemp("e2e")) as srv:
        srv.wait_ready()
        yield srv


def test_three_real_circuits_answer_and_merge(server: Server) -> None:
    response = httpx.post(server.url + "/api/ask", json={"prompt": STORY}, timeout=120)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["kind"] == "echo"
    for name in ("self", "emotion", "creation"):
        circuit = doc["circuits"][name]
        assert circuit["status"] == "ok", circuit
        assert len(circuit["text"].split()) >= 3 and circuit["tokens"] > 0
        assert circuit["text"] in doc["reply"]
    assert doc["reply"].index(doc["circuits"]["self"]["text"]) == 0
    assert isinstance(doc["ms"], int)


def test_ready_lists_every_circuit_ready(server: Server) -> None:
    doc = httpx.get(server.url + "/ready").json()
    assert doc["ready"] is True
    assert {c["state"] for c in doc["circuits"].values()} == {"ready"}
    assert doc["replay"]["state"] == "done"


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"prompt": "   "}',
        b'{"prompt": 5}',
        b"this is not json",
        b"[]",
        b'{"prompt": "hi", "stream": "yes"}',
    ],
)
def test_bad_input_gets_422_with_the_error_body(server: Server, body: bytes) -> None:
    response = httpx.post(
        server.url + "/api/ask", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_input" and error["message"] and error["message_ko"]


def test_oversized_prompt_and_body_get_413(server: Server) -> None:
    response = httpx.post(server.url + "/api/ask", json={"prompt": "a" * 20_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    big = json.dumps({"prompt": "b" * (1024 * 1024 + 10)})
    response = httpx.post(
        server.url + "/api/ask", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["message_ko"]


def test_unknown_route_is_a_json_404(server: Server) -> None:
    response = httpx.get(server.url + "/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_head_and_get_root_answer_at_once(tmp_path: Path) -> None:
    with run_server(tmp_path, start_timeout=60) as srv:
        assert httpx.head(srv.url + "/").status_code == 200
        doc = httpx.get(srv.url + "/").json()
        assert doc["name"] == "echo-brain" and doc["status"] == "ok"
        assert httpx.get(srv.url + "/health").json() == {"status": "ok"}


def test_missing_model_fails_one_circuit_and_the_others_answer(tmp_path: Path) -> None:
    # the origin token: /ready shows circuit errors to the origin only
    with run_server(tmp_path, ECHO_EMOTION_MODEL="missing/nowhere.gguf",
                    ECHO_ORIGIN_TOKEN="ask-origin-token") as srv:
        doc = _wait_until_settled(srv)
        assert doc["circuits"]["emotion"]["state"] == "failed"
        assert "not found" in doc["circuits"]["emotion"]["error"]
        assert httpx.get(srv.url + "/ready").status_code == 503
        response = httpx.post(srv.url + "/api/ask", json={"prompt": "Hello!"}, timeout=120)
        assert response.status_code == 200, response.text
        circuits = response.json()["circuits"]
        assert circuits["emotion"]["status"] == "unavailable"  # SPEC §6: not `error`
        assert circuits["self"]["status"] == "ok" and circuits["self"]["text"]


def test_a_circuit_past_its_deadline_is_timeout(tmp_path: Path) -> None:
    env = {"ECHO_CIRCUIT_TIMEOUT_S": "0.05", "ECHO_MAX_TOKENS": "200"}
    with run_server(tmp_path, **env) as srv:
        srv.wait_ready()
        response = httpx.post(srv.url + "/api/ask", json={"prompt": STORY}, timeout=60)
        assert response.status_code == 200, response.text
        statuses = {c["status"] for c in response.json()["circuits"].values()}
        assert statuses == {"timeout"}


def test_full_queue_answers_429_with_retry_after(tmp_path: Path) -> None:
    import concurrent.futures

    env = {"ECHO_QUEUE_SIZE": "1", "ECHO_MAX_TOKENS": "120", "ECHO_TEMPERATURE": "0"}
    with run_server(tmp_path, **env) as srv:
        srv.wait_ready()

        def post(_: int) -> httpx.Response:
            return httpx.post(srv.url + "/api/ask", json={"prompt": STORY}, timeout=120)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(post, range(6)))
        codes = sorted(r.status_code for r in responses)
        assert 200 in codes and 429 in codes, codes
        busy = next(r for r in responses if r.status_code == 429)
        assert busy.headers["Retry-After"] and busy.json()["error"]["code"] == "busy"


def _wait_until_settled(server: Server, timeout: float = 60) -> dict[str, object]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = server.ready().json()
        states = {c["state"] for c in doc["circuits"].values()}
        if states and states <= {"ready", "failed"}:
            return doc
        time.sleep(0.1)
    raise AssertionError("circuits did not settle")
