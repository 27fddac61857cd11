"""Whose words are whose, through a real server and a remote circuit that records its prompts.

The origin's archive holds one planted line. Guests ask about it, and tell the companion
things of their own; none of it may reach the origin's tree, his recall or his circuits'
prompts, nor another guest's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from core.memory.lines import ORIGIN_HEADER
from core.settings import load_settings
from origin_model.corpus import ArchiveStats, iter_turns
from tests.e2e_server import Server, run_server
from tests.recording_remote import recording_remote

ORIGIN, ANA, BO = "origin-tok-ownership", "ana-tok-ownership", "bo-tok-ownership"
PLANTED = "the code for the blue safe is 4172-8830"
QUESTION = "What was the code for the blue safe?"
ANA_SECRET = "remember this: the code is 9999-0000"


def _seed(root: Path) -> None:
    folder = root / "memory" / "day0501"
    folder.mkdir(parents=True)
    (folder / "part1.txt").write_text(
        f"나의 말:\n{PLANTED}\nChatGPT의 말:\nI will keep it safe.\n"
        "나의 말:\nthe weekend was rainy\n", encoding="utf-8")


def _ask(server: Server, token: str, prompt: str, **headers: str) -> dict[str, Any]:
    response = httpx.post(server.url + "/api/ask", json={"prompt": prompt}, timeout=120,
                          headers={"Authorization": f"Bearer {token}", **headers})
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def _sent(bodies: list[str], since: int) -> str:
    return "\n".join(bodies[since:])


def test_guests_words_stay_theirs_and_never_crowd_out_the_origin(tmp_path: Path) -> None:
    _seed(tmp_path)
    with recording_remote() as (spec, bodies):
        env = {"ECHO_ORIGIN_TOKEN": ORIGIN, "ECHO_GUEST_TOKENS": f"ana:{ANA},bo:{BO}",
               "ECHO_SELF_MODEL": spec, "ECHO_EMOTION_MODEL": "echo",
               "ECHO_CREATION_MODEL": "echo", "ECHO_RECALL_INDEXER": "0"}
        with run_server(tmp_path, **env) as server:
            server.wait_ready()
            for _ in range(6):
                guest = _ask(server, ANA, QUESTION)
                assert guest["memory"]["saved"] is True
                assert "path" not in guest["memory"] and "context" not in guest["memory"]
            _ask(server, ANA, ANA_SECRET)
            assert PLANTED.split()[-1] not in _sent(bodies, 0)  # no guest got his line

            mark = len(bodies)
            origin = _ask(server, ORIGIN, QUESTION)
            texts = [u["text"] for u in origin["memory"]["context"]]
            assert PLANTED in texts  # six guest questions did not push it out
            assert not any("9999" in t or t == QUESTION for t in texts), texts
            assert all("guest" not in u for u in origin["memory"]["context"])
            to_origin = _sent(bodies, mark)
            assert "4172-8830" in to_origin and "9999-0000" not in to_origin
            assert "손님" not in to_origin and "guest ana" not in to_origin

            mark = len(bodies)
            _ask(server, BO, "which code did I ask you to remember?")
            to_bo = _sent(bodies, mark)
            assert "9999-0000" not in to_bo and "4172" not in to_bo  # not ana's, not his
            mark = len(bodies)
            _ask(server, ANA, "which code did I ask you to remember?")
            to_ana = _sent(bodies, mark)
            assert "9999-0000" in to_ana and "4172" not in to_ana  # her own line, labelled
            assert "guest ana" in to_ana

            recall = server.url + "/api/memory/recall"
            auth = {"Authorization": f"Bearer {ORIGIN}"}
            plain = httpx.get(recall, params={"q": "code"}, headers=auth).json()["results"]
            assert not any("9999" in h["text"] or "guest" in h for h in plain)
            both = httpx.get(recall, params={"q": "code", "include": "guests"},
                             headers=auth).json()["results"]
            labelled = [h for h in both if h.get("guest")]
            assert {h["guest"] for h in labelled} == {"ana", "bo"}
            assert any("9999-0000" in h["text"] for h in labelled)
            assert all(h["guest"] == "ana" for h in labelled if "9999" in h["text"])
            assert all(h["speaker"] in (f"guest:{h['guest']}", "echo") for h in labelled)
            assert httpx.get(recall, params={"q": "code", "include": "guests"},
                             headers={"Authorization": f"Bearer {ANA}"}).status_code == 403
            assert httpx.get(recall, params={"q": "code", "include": "everyone"},
                             headers=auth).status_code == 422

    memory = tmp_path / "memory"
    origin_tree = "\n".join(p.read_text("utf-8") for p in sorted(memory.glob("day*/**/*.txt")))
    assert QUESTION in origin_tree  # the origin's own turn
    lines = origin_tree.splitlines()
    assert lines.count(QUESTION) == 1 and "9999" not in origin_tree
    assert origin_tree.count(ORIGIN_HEADER) == 3  # two seeded turns, one saved
    ana_parts = sorted((memory / "guests/ana").rglob("*.txt"))
    ana_tree = "\n".join(p.read_text("utf-8") for p in ana_parts)
    assert ana_tree.count("손님 ana의 말:") == 8 and ORIGIN_HEADER not in ana_tree
    assert ana_tree.splitlines().count(QUESTION) == 6 and ANA_SECRET in ana_tree
    settings = load_settings(memory_dir=memory)
    corpus = " ".join(t.text for t in iter_turns(memory, settings, ArchiveStats()))
    assert "4172-8830" in corpus and "9999" not in corpus and "which code" not in corpus
