"""A served LoRA adapter, end to end: a real server, real workers, the demo GGUF + adapter."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks.lora_fixture import write_lora
from llm.fingerprint import model_fingerprint
from tests.e2e_server import Server, free_port, run_server, server_env

MODELS = Path(os.environ.get("ECHO_MODELS_DIR", Path(__file__).resolve().parents[2] / "models"))
DEMO = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
SMALL = {"ECHO_N_CTX": "1024", "ECHO_MAX_TOKENS": "12", "ECHO_N_THREADS": "1",
         "ECHO_ORIGIN_TOKEN": "lora-origin-token"}  # /ready shows the origin everything


def settled(server: Server, states: dict[str, str], timeout: float = 180) -> dict[str, object]:
    """Poll /ready until each named circuit is in its expected state."""
    deadline = time.monotonic() + timeout
    doc: dict[str, object] = {}
    while time.monotonic() < deadline:
        doc = server.ready().json()
        circuits = doc["circuits"]
        if all(circuits[n]["state"] == s for n, s in states.items()):  # type: ignore[index]
            return doc
        time.sleep(0.2)
    raise AssertionError(f"circuits did not settle: {doc}\n{server.log()}")


def ask(server: Server, prompt: str) -> dict[str, object]:
    response = httpx.post(server.url + "/api/ask", json={"prompt": prompt}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_served_adapter_answers_through_api_ask(tmp_path: Path) -> None:
    lora = write_lora(tmp_path / "lora" / "self.gguf", DEMO, layers=(0, 1), b_std=0.2)
    with run_server(tmp_path / "srv", ECHO_SELF_LORA=str(lora), ECHO_SELF_LORA_SCALE="0.5",
                    **SMALL) as server:
        ready = server.wait_ready()
        circuit = ready["circuits"]["self"]  # type: ignore[index]
        adapter = circuit["adapter"]
        assert adapter["file"] == "self.gguf" and adapter["scale"] == 0.5
        assert adapter["base_fingerprint"] == model_fingerprint(DEMO) and adapter["matches"] is True
        assert adapter["rank"] == 4 and adapter["warning"] is None
        assert circuit["backend"].endswith("+lora:self.gguf")
        assert circuit["warmup_s"] > 0  # the static prefix was evaluated with the adapter on
        assert "adapter" not in ready["circuits"]["emotion"]  # type: ignore[index]
        doc = ask(server, "Tell me about the sea.")
        circuits = doc["circuits"]
        assert {c["status"] for c in circuits.values()} == {"ok"}, circuits  # type: ignore[union-attr]
        assert circuits["self"]["text"] and circuits["self"]["tokens"] > 0  # type: ignore[index]
        assert str(tmp_path) not in server.ready().text  # file names only


def test_a_wrong_adapter_fails_its_circuit_only_and_an_unsigned_one_warns(tmp_path: Path) -> None:
    other = write_lora(tmp_path / "other-base.gguf", DEMO, fingerprint="cd" * 32)
    plain = write_lora(tmp_path / "converted.gguf", DEMO, fingerprint=None, b_std=0.01)
    with run_server(tmp_path / "srv", ECHO_SELF_LORA=str(other), ECHO_CREATION_LORA=str(DEMO),
                    ECHO_EMOTION_LORA=str(plain), **SMALL) as server:
        doc = settled(server, {"self": "failed", "creation": "failed", "emotion": "ready"})
        circuits = doc["circuits"]
        self_doc, creation = circuits["self"], circuits["creation"]  # type: ignore[index]
        assert "made for another base model" in self_doc["error"]
        assert "다른 기반 모델" in self_doc["error"] and "cdcdcdcdcdcd" in self_doc["error"]
        assert self_doc["adapter"] == {"file": "other-base.gguf", "scale": 1.0}
        assert "is not a LoRA adapter" in creation["error"]
        assert "LoRA 어댑터가 아닙니다" in creation["error"]
        emotion = circuits["emotion"]["adapter"]  # type: ignore[index]
        assert emotion["matches"] is None and "echo.base.fingerprint" in emotion["warning"]
        assert "converted.gguf: the adapter does not say which base model" in server.log()
        answer = ask(server, "Hello!")
        states = {n: c["status"] for n, c in answer["circuits"].items()}  # type: ignore[union-attr]
        assert states == {"emotion": "ok", "self": "unavailable", "creation": "unavailable"}
        time.sleep(1.5)  # a permanent error is not retried in a loop
        again = server.ready().json()["circuits"]["self"]
        assert again["state"] == "failed" and again["restarts"] == 0


def test_a_bad_scale_stops_the_server_at_start_naming_the_variable(tmp_path: Path) -> None:
    # The port answers liveness at once (issue 18), so the server may answer HEAD / before
    # it reads its settings; what counts is that it then exits 2 naming the variable.
    done = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        cwd=tmp_path, env=server_env(tmp_path, ECHO_SELF_LORA_SCALE="strong"),
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ECHO_SELF_LORA_SCALE" in done.stdout + done.stderr
