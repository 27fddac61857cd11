"""Warm prefixes and real token counts, end to end with the demo model in all circuits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e_server import Server, run_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shipped manifests (a long Korean + English system prefix) and short replies."""
    with run_server(tmp_path_factory.mktemp("warm"), ECHO_MAX_TOKENS="24") as srv:
        srv.wait_ready()
        yield srv


def timed_ask(server: Server, prompt: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    response = httpx.post(server.url + "/api/ask", json={"prompt": prompt}, timeout=120)
    assert response.status_code == 200, response.text
    return time.perf_counter() - started, response.json()


def test_the_first_answer_after_ready_is_as_fast_as_the_next(server: Server) -> None:
    ready = httpx.get(server.url + "/ready").json()
    for name, circuit in ready["circuits"].items():
        assert circuit["warmup_s"] and circuit["warmup_s"] > 0, (name, circuit)
    # prompts that run to ECHO_MAX_TOKENS, so both answers decode the same number of tokens
    first, doc = timed_ask(server, "Tell me a long story about the sea and a lighthouse.")
    second, doc2 = timed_ask(server, "Tell me a long story about a village in the mountains.")
    assert first <= 1.5 * second, (first, second, doc, doc2)
    for circuit in doc["circuits"].values():  # type: ignore[union-attr]
        assert circuit["prompt_tokens"] > 100 and circuit["tokens"] > 0
    metrics = httpx.get(server.url + "/metrics").text
    assert 'echo_prompt_cache_hits_total{circuit="self"}' in metrics
    hits = [line for line in metrics.splitlines()
            if line.startswith('echo_prompt_cache_hits_total{circuit="self"}')]
    assert float(hits[0].split()[-1]) >= 2
    assert 'echo_circuit_warmup_seconds{circuit="emotion"}' in metrics
    assert "process_start_time_seconds" in metrics  # the dashboard's uptime


def test_v1_reports_real_prompt_tokens(server: Server) -> None:
    body = {"model": "self", "messages": [{"role": "user", "content": "Hello there!"}]}
    doc = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=120).json()
    usage = doc["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_forty_turn_conversation_fits_the_context(server: Server) -> None:
    messages: list[dict[str, str]] = []
    for i in range(40):
        messages.append({"role": "user", "content": f"Turn {i}: tell me something about rivers "
                         "and mountains, and remember this detail number " + str(i) * 20})
        messages.append({"role": "assistant", "content": "Rivers carve valleys; " * 12})
    messages.append({"role": "user", "content": "What did we talk about?"})
    body = {"model": "echo-brain", "messages": messages}
    response = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=180)
    assert response.status_code == 200, response.text
    circuits = response.json()["echo_brain"]["circuits"]
    assert {c["status"] for c in circuits.values()} == {"ok"}, circuits
    assert all(c["prompt_tokens"] <= 2048 for c in circuits.values())


def test_a_single_message_that_cannot_fit_gets_413(server: Server) -> None:
    huge = "바다와 산에 대한 이야기 " * 900  # under ECHO_MAX_PROMPT_CHARS, over n_ctx tokens
    assert len(huge) < 16000
    response = httpx.post(server.url + "/api/ask", json={"prompt": huge}, timeout=60)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["message_ko"]

