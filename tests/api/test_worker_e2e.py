"""A native crash costs one circuit, never the server: real uvicorn, real workers, kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import load_settings
from llm import process_backend
from tests.e2e_server import REPO, Server, run_server
from tests.fakes import alive

MODELS = Path(os.environ.get("ECHO_MODELS_DIR", REPO / "models"))
DEMO = "SmolLM2-135M-Instruct.Q4_1.gguf"




ORIGIN = "worker-origin-token"  # /ready shows pids and errors to the origin only


def worker_pids(server: Server) -> dict[str, int]:
    doc = server.ready().json()
    return {name: c["pid"] for name, c in doc["circuits"].items()}


def test_killing_a_worker_mid_answer_costs_only_that_circuit(tmp_path: Path) -> None:
    with run_server(tmp_path, ECHO_MAX_TOKENS="200", ECHO_ORIGIN_TOKEN=ORIGIN) as server:
        server.wait_ready()
        pids = worker_pids(server)
        assert len(set(pids.values())) == 3 and server.proc.pid not in pids.values()
        events: list[tuple[str, dict[str, Any]]] = []
        body = {"prompt": "Tell me a long story about a lighthouse.", "stream": True}
        with httpx.stream("POST", server.url + "/api/ask", json=body, timeout=120,
                          headers={"Authorization": f"Bearer {ORIGIN}"}) as response:
            assert response.status_code == 200
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    events.append((event, json.loads(line[6:])))
                    if len(events) == 1:
                        os.kill(pids["self"], signal.SIGKILL)
        kind, doc = events[-1]
        assert kind == "done"
        assert doc["circuits"]["self"]["status"] == "error"
        assert "SIGKILL" in doc["circuits"]["self"]["error"]
        assert doc["circuits"]["emotion"]["status"] == "ok"
        assert doc["circuits"]["creation"]["status"] == "ok"
        assert doc["memory"]["saved"] is True
        assert server.proc.poll() is None
        deadline = time.monotonic() + 30
        ready: dict[str, Any] = {}
        while time.monotonic() < deadline:
            ready = server.ready().json()["circuits"]["self"]
            if ready["state"] == "ready":
                break
            time.sleep(0.2)
        assert ready["state"] == "ready" and ready["restarts"] == 1, ready
        assert ready["last_exit"] == "SIGKILL" and ready["pid"] != pids["self"]
        again = httpx.post(server.url + "/api/ask", json={"prompt": "Say hello."}, timeout=120)
        assert again.status_code == 200
        assert {c["status"] for c in again.json()["circuits"].values()} == {"ok"}
        assert not alive(pids["self"])


def test_a_server_killed_with_sigkill_leaves_no_worker_behind(tmp_path: Path) -> None:
    with run_server(tmp_path, ECHO_ORIGIN_TOKEN=ORIGIN) as server:
        server.wait_ready()
        pids = list(worker_pids(server).values())
        assert all(alive(pid) for pid in pids)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in pids if alive(pid)]


class CrashOnLoad(process_backend.ProcessBackend):
    """The `crashy.gguf` circuit's interpreter dies of SIGSEGV at once, on every start."""

    script: str = ""

    def __init__(self, config: Any, *, python: str | None = None) -> None:
        if Path(config.model_path).name == "crashy.gguf":
            python = self.script
        super().__init__(config, python=python)


def test_a_circuit_crashing_on_every_load_fails_and_the_others_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS / DEMO, models / DEMO)
    shutil.copy(MODELS / DEMO, models / "crashy.gguf")
    script = tmp_path / "segv-python"
    script.write_text("#!/bin/sh\nkill -SEGV $$\n")
    script.chmod(0o755)
    CrashOnLoad.script = str(script)
    monkeypatch.setattr(process_backend, "ProcessBackend", CrashOnLoad)
    settings = load_settings(
        models_dir=models, self_model="crashy.gguf", memory_dir=tmp_path / "memory",
        memory_backup_dir=tmp_path / "backup", origin_dir=tmp_path / "origin",
        manifest_dir=REPO / "manifest", n_ctx=2048, max_tokens=16, origin_token=ORIGIN,
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 180  # the demo prefixes, on a busy machine
        doc: dict[str, Any] = {}
        while time.monotonic() < deadline:
            doc = client.get("/ready", headers={"Authorization": f"Bearer {ORIGIN}"}).json()[
                "circuits"]
            if doc["self"]["state"] == "failed" and doc["emotion"]["state"] == "ready" == doc[
                "creation"
            ]["state"]:
                break
            time.sleep(0.2)
        assert doc["self"]["state"] == "failed", doc
        assert "5 times in a row" in doc["self"]["error"] and "SIGSEGV" in doc["self"]["error"]
        assert doc["self"]["restarts"] == 4
        answer = client.post("/api/ask", json={"prompt": "Say hello."})
        assert answer.status_code == 200, answer.text
        circuits = answer.json()["circuits"]
        assert circuits["self"]["status"] == "unavailable"
        assert "SIGSEGV" in circuits["self"]["error"]
        assert circuits["emotion"]["status"] == "ok" and circuits["creation"]["status"] == "ok"


def test_a_normal_shutdown_stops_every_worker(tmp_path: Path) -> None:
    with run_server(tmp_path, ECHO_EMOTION_MODEL="echo", ECHO_CREATION_MODEL="echo",
                    ECHO_ORIGIN_TOKEN=ORIGIN) as server:
        server.wait_ready()
        pids = worker_pids(server)
        assert pids["emotion"] is None and pids["creation"] is None  # no process for echo
        worker = pids["self"]
        assert alive(worker)
    assert server.proc.returncode is not None
    assert not alive(worker)
