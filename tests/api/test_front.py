"""The port at once: liveness answers while the app builds; everything else waits for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e_server import REPO, free_port


def launch(factory: str, tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving `Front(factory)` on a free port; its output goes to tmp_path/log."""
    port = free_port()
    code = ("import uvicorn\nfrom api.front import Front\n"
            f"uvicorn.run(Front({factory!r}), host='127.0.0.1', port={port}, ws='none')\n")
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
        )
    return proc, f"http://127.0.0.1:{port}"


def wait_head(proc: subprocess.Popen[bytes], url: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            return httpx.head(url + "/", timeout=5)
        except httpx.TransportError:
            time.sleep(0.02)
    raise AssertionError("the port never opened")


def test_liveness_answers_while_the_app_builds_and_the_rest_waits(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    proc, url = launch("tests.api.front_apps:slow", tmp_path, FRONT_BUILD_S="4",
                       FRONT_MARKS=str(marks))
    try:
        head = wait_head(proc, url)
        assert head.status_code == 200 and head.headers["content-type"] == "application/json"
        assert httpx.get(url + "/health").json() == {"status": "ok"}
        root = httpx.get(url + "/").json()
        assert root["status"] == "ok" and root["booting"] is True
        assert not marks.exists()  # still building: the app's lifespan has not run
        ready = httpx.get(url + "/ready", timeout=60)  # waits for the app, then gets its answer
        assert ready.json() == {"ready": True} and marks.read_text() == "started\n"
        assert httpx.get(url + "/").json()["booting"] is False  # the app's own route now
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert marks.read_text() == "started\nstopped\n"  # the app's shutdown ran


def test_a_bad_setting_found_after_the_port_opened_ends_the_process(tmp_path: Path) -> None:
    proc, url = launch("tests.api.front_apps:misconfigured", tmp_path)
    try:
        proc.wait(timeout=60)
    finally:
        proc.kill()
    output = (tmp_path / "log").read_text()
    assert proc.returncode == 2, output
    assert "ECHO_MERGE" in output and "설정" in output


def test_ready_while_booting_is_503_with_every_circuit_pending() -> None:
    from api.liveness import booting_ready
    from core.settings import CIRCUIT_NAMES

    doc = booting_ready()
    assert doc["ready"] is False and doc["replay"]["state"] == "pending"
    assert list(doc["circuits"]) == list(CIRCUIT_NAMES)
    assert {c["state"] for c in doc["circuits"].values()} == {"pending"}
