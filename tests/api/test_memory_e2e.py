"""Memory end to end: many concurrent turns over two worker processes, search, insight."""

from __future__ import annotations

import concurrent.futures
import filecmp
from pathlib import Path

import httpx

from core.memory.archive import discover
from core.memory.lines import decode_part, parse_lines
from tests.e2e_server import run_server

TOKEN = "origin-secret-for-memory-tests"
ECHO_ENV = {
    "ECHO_EMOTION_MODEL": "echo",
    "ECHO_CREATION_MODEL": "echo",
    "ECHO_SELF_MODEL": "echo",
    "ECHO_QUEUE_SIZE": "512",
    "ECHO_ORIGIN_TOKEN": TOKEN,
}


def origin_lines(memory: Path) -> list[str]:
    """Every line the origin said, read back through the replay's own parser."""
    parts, _ = discover(memory)
    said: list[str] = []
    for part in parts:
        rows, _ = parse_lines(decode_part(part.path.read_bytes()))
        said += [text for _, speaker, text in rows if speaker == "origin"]
    return said


def test_200_concurrent_turns_over_two_workers_are_each_saved_once(tmp_path: Path) -> None:
    with run_server(tmp_path, workers=2, **ECHO_ENV) as server:
        server.wait_ready()

        def ask(i: int) -> httpx.Response:
            return httpx.post(
                server.url + "/api/ask",
                json={"prompt": f"turn {i} 바다 이야기"},
                headers={"Idempotency-Key": f"k-{i}", "Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            )

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            responses = list(pool.map(ask, range(200)))
        assert [r.status_code for r in responses] == [200] * 200
        assert all(r.json()["memory"]["saved"] for r in responses)
        retry = ask(7).json()
        assert retry["memory"]["saved"] is True and retry["memory"].get("duplicate") is True

    memory, backup = tmp_path / "memory", tmp_path / "memory_backup"
    said = origin_lines(memory)
    assert sorted(said) == sorted(f"turn {i} 바다 이야기" for i in range(200))
    parts = sorted(p.relative_to(memory) for p in memory.rglob("part*.txt"))
    assert len(parts) >= 2  # 200 turns of 4+ lines cannot fit one part of 395
    for rel in parts:
        assert len((memory / rel).read_bytes().splitlines()) <= 395
        assert filecmp.cmp(memory / rel, backup / rel, shallow=False)
    assert parts == sorted(p.relative_to(backup) for p in backup.rglob("part*.txt"))


def test_search_and_insight_are_origin_only_and_find_korean_inside_words(tmp_path: Path) -> None:
    day = tmp_path / "memory" / "day0320"
    day.mkdir(parents=True)
    (day / "part1.txt").write_text(
        "나의 말:\n안녕\n오늘은 에코브레인의기능을 정리하는 날이야\nChatGPT의 말:\n좋아\n",
        encoding="utf-8",
    )
    with run_server(tmp_path, **ECHO_ENV) as server:
        server.wait_ready()
        url = server.url + "/api/memory/search"
        assert httpx.get(url, params={"q": "기능을"}).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.get(url, params={"q": "기능을"}, headers=wrong).status_code == 401
        origin = {"Authorization": f"Bearer {TOKEN}"}
        doc = httpx.get(url, params={"q": "브레인의기능", "k": 5}, headers=origin).json()
        first = doc["results"][0]
        assert (first["day"], first["part"], first["line"]) == ("day0320", 1, 3)
        assert first["path"] == "memory/day0320/part1.txt"
        assert "에코브레인의기능" in first["text"]
        assert httpx.get(url, params={"q": " "}, headers=origin).status_code == 422

        saved = httpx.post(server.url + "/api/ask", json={"prompt": "고래가 노래하는 밤"},
                           headers=origin).json()
        assert saved["memory"]["saved"] is True
        doc = httpx.get(url, params={"q": "노래하는"}, headers=origin).json()
        assert any(r["text"] == "고래가 노래하는 밤" for r in doc["results"])

        insight = httpx.get(server.url + "/api/insight", headers=origin)
        assert insight.status_code == 200
        assert insight.json()["days"] >= 1 and insight.json()["first_day"] == "day0320"
        assert httpx.get(server.url + "/api/insight").status_code == 401
        assert TOKEN not in server.log()
