"""Models learned from the memory serve the origin only: a real server, a real tuned adapter.

The adapter comes from `echo-brain tune` on the demo model. Greedy answers: a guest's equal the
base model's (a server without the adapter), the origin's equal the adapted model's (the
origin's first answer, before any guest switched the context), both warm, interleaved. The KV
state the origin's turn leaves is never reused for a guest beyond the static prefix, as
`echo_prompt_cached_tokens_total` counts it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import models_dir
from tests.e2e_server import Server, run_server
from tests.origin_model.archive import make_archive
from tests.tune.conftest import run_tune

DEMO_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ORIGIN, ANA = "origin-secret-1", "ana-secret-2"
TOKENS = {"ECHO_ORIGIN_TOKEN": ORIGIN, "ECHO_GUEST_TOKENS": f"ana:{ANA}"}
ECHOES = {"ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo"}
GREEDY = {"ECHO_TEMPERATURE": "0", "ECHO_CONTEXT_LINES": "0", "ECHO_MAX_TOKENS": "12",
          "ECHO_N_CTX": "1024", "ECHO_N_THREADS": "1", **ECHOES, **TOKENS}
PROMPT = "Tell me about the sea. My secret word is heliotrope."
CACHED = re.compile(r'^echo_prompt_cached_tokens_total\{circuit="self"\} (\S+)$', re.M)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter for the demo model made by `echo-brain tune` (three steps: enough to
    change a greedy answer; most of the half minute is the command's start and export)."""
    root = tmp_path_factory.mktemp("tuned")
    models = root / "models"
    models.mkdir()
    (models / DEMO_FILE).symlink_to(models_dir() / DEMO_FILE)
    memory = make_archive(root / "memory", parts=1)
    done = run_tune(models, "--memory-dir", memory, "--steps", "3", "--lr", "0.01", "--json",
                    "--context", "48", "--batch-size", "2", "--threads", "1", "--rank", "4",
                    "--val-tokens", "64")
    assert done.returncode == 0, done.stderr
    return models / json.loads(done.stdout)["serve"].split("=", 1)[1]


@pytest.fixture
def small(tmp_path: Path) -> dict[str, str]:
    """The greedy settings, one short declaration (a quick prefix) and a prefix cache here."""
    manifest = tmp_path / "manifest"
    manifest.mkdir()
    (manifest / "identity.txt").write_text("I am Echo. 나는 에코입니다.\n", encoding="utf-8")
    return {**GREEDY, "ECHO_MANIFEST_DIR": str(manifest), "ECHO_CACHE_DIR": str(tmp_path / "kv")}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cached_total(server: Server) -> float:
    text = httpx.get(server.url + "/metrics", headers=bearer(ORIGIN), timeout=10).text
    found = CACHED.search(text)
    return float(found.group(1)) if found else 0.0


def turn(server: Server, token: str) -> tuple[dict[str, object], int]:
    """One /api/ask; the self circuit's document and the tokens it reused from the KV state."""
    before = cached_total(server)
    response = httpx.post(server.url + "/api/ask", json={"prompt": PROMPT},
                          headers=bearer(token), timeout=120)
    assert response.status_code == 200, response.text
    circuit = response.json()["circuits"]["self"]
    assert circuit["status"] == "ok", circuit
    return circuit, int(cached_total(server) - before)


def static_prefix(ready: dict[str, object]) -> int:
    prefixes = ready["circuits"]["self"]["prefix"]["prefixes"]  # type: ignore[index]
    return max(p["tokens"] for p in prefixes)


def test_a_tuned_adapter_serves_the_origin_and_a_guest_gets_the_base(
    tuned: Path, small: dict[str, str], tmp_path: Path
) -> None:
    with run_server(tmp_path / "base", **small) as server:  # no adapter: the base model
        static = static_prefix(server.wait_ready())
        base = turn(server, ORIGIN)[0]["text"]
        mine, reused = turn(server, ORIGIN)
        assert mine["text"] == base and reused > static + 5  # the same caller: its whole prompt
        guest, reused = turn(server, ANA)  # after the origin's turn: the static prefix only
        assert guest["text"] == base and reused == static
    with run_server(tmp_path / "lora", ECHO_SELF_LORA=str(tuned), **small) as server:
        ready = server.wait_ready()
        static = static_prefix(ready)
        adapted, warm = turn(server, ORIGIN)  # the adapter was warmed last: nothing switched
        assert adapted["text"] and adapted["text"] != base and warm >= static > 10
        for _ in range(2):  # interleaved, each twice: every turn switches the adapter
            guest, reused = turn(server, ANA)
            assert guest["text"] == base and reused == static
            origin, reused = turn(server, ORIGIN)
            assert origin["text"] == adapted["text"] and reused == static
        # The same caller reuses its own whole prompt: its last token is evaluated alone, where
        # above it was evaluated in a batch after the static prefix. llama.cpp's logits depend
        # on that split on some CPUs (an AVX-512 Xeon: up to 0.58 apart on the demo model, and
        # the 3-step adapter's flat logits then pick other tokens), so two turns with the same
        # split are compared: the adapter stays on, the same answer, never the base's.
        again, reused = turn(server, ORIGIN)
        twice, reused_twice = turn(server, ORIGIN)
        assert again["text"] == twice["text"] and again["text"] != base
        assert reused > static + 5 and reused_twice > static + 5


def test_an_origin_only_circuit_is_unavailable_to_guests_and_the_others_answer(
    tmp_path: Path,
) -> None:
    env = {"ECHO_SELF_MODEL": "echo", "ECHO_SELF_ORIGIN_ONLY": "true", **ECHOES, **TOKENS}
    with run_server(tmp_path, **env) as server:
        ready = server.wait_ready()["circuits"]
        assert ready["self"]["origin_only"] is True and "origin_only" not in ready["emotion"]  # type: ignore[index]
        with server.client() as client:
            doc = client.post("/api/ask", json={"prompt": "hello"}, headers=bearer(ANA)).json()
            circuits = doc["circuits"]
            assert circuits["self"]["status"] == "unavailable"
            assert "origin only" in circuits["self"]["error"]
            assert "오리진에게만" in circuits["self"]["error"]
            assert circuits["emotion"]["status"] == circuits["creation"]["status"] == "ok"
            assert circuits["self"]["text"] == "" and doc["reply"]
            mine = client.post("/api/ask", json={"prompt": "hello"}, headers=bearer(ORIGIN))
            assert mine.json()["circuits"]["self"]["status"] == "ok"
            listed = client.get("/v1/models", headers=bearer(ANA)).json()["data"]
            assert [m["id"] for m in listed] == ["echo-brain", "emotion", "creation"]
            listed = client.get("/v1/models", headers=bearer(ORIGIN)).json()["data"]
            assert [m["id"] for m in listed] == ["echo-brain", "emotion", "creation", "self"]
            one = client.post("/v1/chat/completions", headers=bearer(ANA), json={
                "model": "self", "messages": [{"role": "user", "content": "hello"}]})
            assert one.status_code == 403, one.text
            error = one.json()["error"]
            assert "origin only" in error["message"] and "오리진에게만" in error["message_ko"]
