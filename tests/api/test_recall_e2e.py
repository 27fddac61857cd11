"""Recall through real servers: new turns within seconds, the origin's memory stays the origin's."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e_server import Server, run_server
from tests.recording_remote import recording_remote as _remote

ORIGIN = "origin-token-for-recall"
GUEST = "guest-access-token-for-recall"
ECHO = {f"ECHO_{c}_MODEL": "echo" for c in ("EMOTION", "CREATION", "SELF")}
PLANTED = "현관 금고 비밀번호는 plant-7731 이라고 적어 두었어"
SEED = (f"나의 말:\n{PLANTED}\n에코의 말:\n알겠어, 잊지 않을게\n"
        "나의 말:\n주말에는 바다에 가고 싶어\n")


def _seed(root: Path) -> None:
    folder = root / "memory" / "day0501" / "user"
    folder.mkdir(parents=True)
    (folder / "part1.txt").write_text(SEED, encoding="utf-8")


def _recall_done(server: Server, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] = httpx.get(server.url + "/ready", timeout=5).json()["recall"]
        assert isinstance(doc["done"], int) and isinstance(doc["total"], int)
        if doc["state"] == "done":
            return doc
        time.sleep(0.2)
    raise AssertionError(f"recall indexing did not finish: {doc}\n{server.log()}")


def test_a_new_turn_is_recallable_within_seconds(tmp_path: Path) -> None:
    _seed(tmp_path)
    origin = {"Authorization": f"Bearer {ORIGIN}"}
    with run_server(tmp_path, ECHO_ORIGIN_TOKEN=ORIGIN, ECHO_RECALL_NICE="0", **ECHO) as server:
        server.wait_ready()
        doc = _recall_done(server)
        assert doc["total"] == doc["done"] == doc["morph_done"] == 3
        answer = httpx.post(server.url + "/api/ask", headers=origin, timeout=120,
                            json={"prompt": "우리 집 고양이 이름은 나비였어"}).json()
        assert answer["memory"]["saved"] is True
        saved = time.monotonic()
        url = server.url + "/api/memory/recall"
        while True:
            hits = httpx.get(url, headers=origin, timeout=30,
                             params={"q": "고양이 이름이 뭐였지", "path": "morpheme"}).json()
            if any("나비" in h["text"] for h in hits["results"]):
                break
            # seconds on a quiet machine (BENCHMARKS.md); generous here for a loaded CI machine
            assert time.monotonic() - saved < 60, hits
            time.sleep(0.2)
        # the morpheme row and the vector of a new turn are written by separate steps of the
        # indexer: the vector may come a moment later, so ask across languages until it has
        while True:
            fused = httpx.get(url, headers=origin, timeout=30,
                              params={"q": "what was my cat called?", "k": 20}).json()
            said = [h for h in fused["results"] if h["text"] == "우리 집 고양이 이름은 나비였어"
                    and h["ranks"]["dense"] is not None]
            if said:
                break
            assert time.monotonic() - saved < 90, fused["results"][:5]
            time.sleep(0.2)
        cat = said[0]
        assert cat["speaker"] == "origin"
        assert set(cat) == {"day", "part", "line", "speaker", "text", "ranks", "date"}
        assert cat["date"] == datetime.date.today().isoformat()  # said today
        metrics = httpx.get(server.url + "/metrics", headers=origin).text  # a token is set
        assert "echo_recall_lines_done" in metrics and "echo_recall_lines_per_second" in metrics


def test_bad_q_and_k_are_422_and_recall_is_origin_only(tmp_path: Path) -> None:
    env = {"ECHO_ORIGIN_TOKEN": ORIGIN, "ECHO_ACCESS_TOKEN": GUEST, "ECHO_RECALL_INDEXER": "0"}
    with run_server(tmp_path, **env, **ECHO) as server:
        server.wait_ready()
        url = server.url + "/api/memory/recall"
        origin = {"Authorization": f"Bearer {ORIGIN}"}
        for params in ({"q": ""}, {"q": "   "}, {"q": "x", "k": "0"}, {"q": "x", "k": "101"},
                       {"q": "x", "k": "ten"}, {"q": "x", "path": "nope"}, {}):
            response = httpx.get(url, params=params, headers=origin)
            assert response.status_code == 422, params
            assert response.json()["error"]["message_ko"]
        guest = httpx.get(url, params={"q": "바다"}, headers={"Authorization": f"Bearer {GUEST}"})
        assert guest.status_code == 403
        assert httpx.get(url, params={"q": "바다"}).status_code == 401
        assert httpx.get(url, params={"q": "바다"}, headers=origin).status_code == 200


def test_a_guest_never_carries_a_planted_line_to_a_remote_circuit(tmp_path: Path) -> None:
    _seed(tmp_path)
    prompt = {"prompt": "현관 금고 비밀번호가 뭐였는지 기억나?"}
    with _remote() as (spec, bodies):
        env = {"ECHO_ORIGIN_TOKEN": ORIGIN, "ECHO_ACCESS_TOKEN": GUEST, "ECHO_SELF_MODEL": spec,
               "ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo",
               "ECHO_RECALL_NICE": "0"}
        with run_server(tmp_path, **env) as server:
            server.wait_ready()
            _recall_done(server)
            guest = httpx.post(server.url + "/api/ask", json=prompt, timeout=120,
                               headers={"Authorization": f"Bearer {GUEST}"}).json()
            assert guest["circuits"]["self"]["status"] == "ok" and bodies
            assert "context" not in guest["memory"]
            assert not any("plant-7731" in body for body in bodies), bodies
            sent = len(bodies)
            origin = httpx.post(server.url + "/api/ask", json=prompt, timeout=120,
                                headers={"Authorization": f"Bearer {ORIGIN}"}).json()
            # the control: the same prompt from the origin does carry the line
            assert any("plant-7731" in body for body in bodies[sent:])
            used = origin["memory"]["context"]
            assert {"day": "day0501", "part": 1, "line": 2} in [
                {k: u[k] for k in ("day", "part", "line")} for u in used]
