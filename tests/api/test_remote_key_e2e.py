"""A remote circuit carries its API key (ECHO_<CIRCUIT>_API_KEY as a bearer token), never shows
it, and sending memory to plain http on another machine logs a warning once: a real Echo Brain
in front of recording OpenAI-compatible stubs (uvicorn on free ports)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.remote_stub import local_address, run_stub
from tests.e2e_server import run_server

NEAR_KEY, FAR_KEY = "sk-near-remote-5b1f9e", "sk-far-remote-c07d42"
ORIGIN = "remote-origin-token"
WARNING = "plain http on another machine"


def test_the_api_key_reaches_the_remote_and_a_plaintext_remote_abroad_is_warned_once(
    tmp_path: Path,
) -> None:
    far_host = local_address()
    if far_host is None:
        pytest.skip("this machine has no network address besides loopback")
    with run_stub("127.0.0.1") as (near, near_seen), run_stub(far_host) as (far, far_seen):
        env = {"ECHO_SELF_MODEL": f"http://127.0.0.1:{near}/v1#near",
               "ECHO_SELF_API_KEY": NEAR_KEY,
               "ECHO_EMOTION_MODEL": f"http://{far_host}:{far}/v1#far",
               "ECHO_EMOTION_API_KEY": FAR_KEY,
               "ECHO_CREATION_MODEL": "echo", "ECHO_ORIGIN_TOKEN": ORIGIN}
        with run_server(tmp_path, **env) as server:
            ready = server.wait_ready(timeout=60)
            answers = [httpx.post(server.url + "/api/ask", json={"prompt": f"hello {i}"},
                                  headers=server.origin_headers(), timeout=60)
                       for i in range(2)]
            log = server.log()
    for answer in answers:
        assert answer.status_code == 200, answer.text
        circuits = answer.json()["circuits"]
        assert circuits["self"]["text"] == circuits["emotion"]["text"] == "remote ok"
    assert near_seen.authorizations("/v1/chat/completions") == [f"Bearer {NEAR_KEY}"] * 2
    assert far_seen.authorizations("/v1/chat/completions") == [f"Bearer {FAR_KEY}"] * 2
    assert near_seen.authorizations("/v1/models") == [f"Bearer {NEAR_KEY}"]  # the probe too
    # plain http to another machine: one warning, for that circuit only
    warnings = [line for line in log.splitlines() if WARNING in line]
    assert len(warnings) == 1 and f"{far_host}:{far}" in warnings[0], log
    assert "https" in warnings[0] and "암호화" in warnings[0]
    # the keys are never shown: not in the log, /ready (even the origin's), nor the answers
    shown = log + str(ready) + "".join(a.text for a in answers)
    assert NEAR_KEY not in shown and FAR_KEY not in shown
    assert ready["circuits"]["emotion"]["backend"] == f"remote:http://{far_host}:{far}#far"


def test_a_remote_without_a_key_sends_no_authorization(tmp_path: Path) -> None:
    with run_stub() as (port, seen):
        env = {"ECHO_SELF_MODEL": f"http://localhost:{port}/v1#near", "ECHO_EMOTION_MODEL": "echo",
               "ECHO_CREATION_MODEL": "echo"}
        with run_server(tmp_path, **env) as server:
            server.wait_ready(timeout=60)
            answer = httpx.post(server.url + "/api/ask", json={"prompt": "hi"}, timeout=60)
            log = server.log()
    assert answer.status_code == 200 and seen.authorizations("/v1/chat/completions") == [None]
    assert WARNING not in log  # localhost is not another machine
