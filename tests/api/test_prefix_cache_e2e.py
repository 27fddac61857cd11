"""Prefix states on disk, end to end: real servers, the demo model, a restart that restores.

The self circuit runs the demo GGUF (the others `echo`, to keep the test short); a small
declaration file stands in for the manifests so that the cold start stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from llm.prefix_cache import SUFFIX
from tests.e2e_server import Server, run_server

PROMPT = "Describe the lighthouse at night."


def env(tmp_path: Path, manifest: Path) -> dict[str, str]:
    return {"ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo",
            "ECHO_MANIFEST_DIR": str(manifest), "ECHO_CACHE_DIR": str(tmp_path / "cache"),
            "ECHO_TEMPERATURE": "0", "ECHO_MAX_TOKENS": "16", "ECHO_N_CTX": "1024",
            "ECHO_ORIGIN_TOKEN": "prefix-origin-token"}  # /ready and /metrics in full


def start_and_ask(tmp_path: Path, manifest: Path) -> tuple[dict[str, Any], str, str]:
    """One server start: the self circuit's prefix report, its answer, and /metrics."""
    with run_server(tmp_path / "run", **env(tmp_path, manifest)) as server:
        ready = server.wait_ready()
        answer = ask(server)
        metrics = httpx.get(server.url + "/metrics", headers=server.origin_headers()).text
    prefix = ready["circuits"]["self"]["prefix"]  # type: ignore[index]
    return prefix, answer, metrics


def ask(server: Server) -> str:
    response = httpx.post(server.url + "/api/ask", json={"prompt": PROMPT}, timeout=300)
    assert response.status_code == 200, response.text
    circuit = response.json()["circuits"]["self"]
    assert circuit["status"] == "ok", circuit
    return str(circuit["text"])


def declare(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "identity.txt").write_text(text, encoding="utf-8")
    return folder


def test_a_restart_restores_the_prefix_and_answers_the_same(tmp_path: Path) -> None:
    manifest = declare(tmp_path / "manifest", "I keep the light. 나는 등대를 지킨다.\n")
    cold, computed_answer, cold_metrics = start_and_ask(tmp_path, manifest)
    assert cold["source"] == "computed" and cold["prefixes"][0]["tokens"] > 20
    assert 'echo_circuit_prefix_restored{circuit="self"} 0.0' in cold_metrics
    assert len(list((tmp_path / "cache").glob(f"*{SUFFIX}"))) == 1

    warm, restored_answer, warm_metrics = start_and_ask(tmp_path, manifest)
    assert warm["source"] == "restored", warm
    assert 'echo_circuit_prefix_restored{circuit="self"} 1.0' in warm_metrics
    assert restored_answer == computed_answer and restored_answer  # greedy, same prompt

    declare(manifest, "I keep the light and the log. 나는 등대와 일지를 지킨다.\n")
    changed, _, _ = start_and_ask(tmp_path, manifest)
    assert changed["source"] == "computed"  # a changed declaration: the old state is not used
    assert len(list((tmp_path / "cache").glob(f"*{SUFFIX}"))) == 2
