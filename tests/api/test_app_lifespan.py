"""The app factory and lifespan: the port answers while the circuits are still loading."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import api.app
from api.app import create_app
from core.settings import CIRCUIT_NAMES, load_settings
from llm.circuit import Circuit
from tests.fakes import FakeBackend

REPO = Path(__file__).resolve().parents[2]


def test_root_answers_and_ready_is_503_while_models_load(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def slow_backend() -> FakeBackend:
        release.wait(30)  # a model that takes long to load
        return FakeBackend()

    def circuits(*_: object) -> dict[str, Circuit]:
        return {name: Circuit(name, "p", slow_backend) for name in CIRCUIT_NAMES}

    monkeypatch.setattr(api.app, "build_circuits", circuits)
    with TestClient(create_app(load_settings())) as client:
        try:
            assert client.head("/").status_code == 200
            assert client.get("/").json()["booting"] is True
            ready = client.get("/ready")
            assert ready.status_code == 503 and ready.headers["Retry-After"]
            assert {c["state"] for c in ready.json()["circuits"].values()} == {"loading"}
            response = client.post("/api/ask", json={"prompt": "hello"})
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert response.json()["error"]["code"] == "not_ready"
            identity = client.post("/api/ask", json={"prompt": "너는 누구야?"})
            assert identity.status_code == 200 and identity.json()["kind"] == "identity"
        finally:
            release.set()


def test_importing_the_server_loads_no_model() -> None:
    # A fresh process: nothing this test session imported before can hide a module global.
    code = (
        "import gc, sys\n"
        "import api.server\n"
        "from llm.backend import Backend\n"
        "from llm.circuit import Circuit\n"
        "live = [o for o in gc.get_objects() if isinstance(o, (Backend, Circuit))]\n"
        "print(len(live), 'llama_cpp' in sys.modules, api.server.app.app is not None,\n"
        "      'fastapi' in sys.modules, 'pydantic' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # no circuit, no llama, no app built yet, not even FastAPI or pydantic: the port opens first
    assert done.stdout.split() == ["0", "False", "False", "False", "False"]


def test_each_app_builds_its_own_circuits_in_its_lifespan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECHO_EMOTION_MODEL", "echo")
    monkeypatch.setenv("ECHO_CREATION_MODEL", "echo")
    monkeypatch.setenv("ECHO_SELF_MODEL", "echo")
    first, second = create_app(load_settings()), create_app(load_settings())
    with TestClient(first), TestClient(second):
        one, two = first.state.runtime, second.state.runtime
        assert set(one.circuits) == set(two.circuits) == set(CIRCUIT_NAMES)
        assert all(one.circuits[n] is not two.circuits[n] for n in CIRCUIT_NAMES)
        assert one.brain is not two.brain and one.index is not two.index


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.errors import ConfigError

    monkeypatch.setenv("ECHO_N_CTX", "lots")
    with pytest.raises(ConfigError, match="ECHO_N_CTX"):
        load_settings()
    monkeypatch.delenv("ECHO_N_CTX")
    monkeypatch.setenv("PORT", "99999")
    with pytest.raises(ConfigError, match="PORT"):
        load_settings()
