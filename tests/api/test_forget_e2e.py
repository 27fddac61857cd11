"""Forgetting through a real server: the routes, and kill -9 during forgets and appends."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from core.memory.archive import discover
from core.memory.forget.plan import physical_lines
from core.memory.lines import TOMBSTONE, decode_part, parse_lines
from core.memory.recall.enrich import enrich_all
from core.memory.recall.store import RECALL_DB
from core.memory.replay import replay_archive
from core.memory.rows import rowid_of
from tests.core.memory.forget_support import files_holding
from tests.e2e_server import REPO, Server, run_server

TOKEN = "origin-secret-for-forget-tests"
GUEST = "guest-secret-for-forget-tests"
ENV = {
    "ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo", "ECHO_SELF_MODEL": "echo",
    "ECHO_ORIGIN_TOKEN": TOKEN, "ECHO_ACCESS_TOKEN": GUEST, "ECHO_RECALL_INDEXER": "false",
}
PART = "day0301/user/part1.txt"
LINES = 40  # numbered lines after the header: physical lines 2..41


def token_of(n: int) -> str:
    """A token only line n holds (raw-byte searches find it nowhere else)."""
    return f"zq{n:03d}x"


def build(tmp: Path) -> None:
    """The archive (and its mirror), replayed and enriched with the real Kiwi and e5."""
    text = "나의 말:\n" + "".join(f"비밀 줄 {n}번 {token_of(n)} 바다 이야기\n"
                                  for n in range(2, LINES + 2))
    for base in (tmp / "memory", tmp / "memory_backup"):
        (base / PART).parent.mkdir(parents=True)
        (base / PART).write_text(text, encoding="utf-8")
    replay_archive(tmp / "memory", REPO / "manifest")
    enrich_all(tmp / "memory")


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_routes_forget_for_the_origin_only(tmp_path: Path) -> None:
    build(tmp_path)
    with run_server(tmp_path, **ENV) as server:
        server.wait_ready()
        url = server.url + "/api/memory"
        assert httpx.delete(f"{url}/lines/day0301/1/3?speaker=user").status_code == 401
        refused = httpx.delete(f"{url}/lines/day0301/1/3?speaker=user", headers=auth(GUEST))
        assert refused.status_code == 403
        done = httpx.delete(f"{url}/lines/day0301/1/3?speaker=user", headers=auth())
        assert done.status_code == 200, done.text
        assert done.json() | {"id": ""} == {
            "forgotten": True, "id": "", "kind": "line", "path": f"memory/{PART}",
            "day": "day0301", "part": 1, "lines": [3]}
        found = httpx.get(f"{url}/search", params={"q": token_of(3)}, headers=auth())
        assert found.json()["results"] == []
        for path, status in (("lines/day0301/1/3?speaker=user", 404),  # already forgotten
                             ("lines/day0301/1/1?speaker=user", 422),  # a header alone
                             ("lines/day0301/9/3?speaker=user", 404),
                             ("lines/day0301/1/999?speaker=user", 404),
                             ("lines/day0301/1/3?speaker=guests", 422),
                             ("lines/day03x1/1/3", 422), ("guests/nobody", 404),
                             ("guests/Bad%20Name", 422)):
            answer = httpx.delete(f"{url}/{path}", headers=auth())
            assert answer.status_code == status, (path, answer.text)
            error = answer.json()["error"]
            assert error["message"] and error["message_ko"], path
        turn = httpx.delete(f"{url}/turns/day0301/1/20?speaker=user", headers=auth())
        assert turn.json()["lines"] == [1, 2, *range(4, LINES + 2)]  # header included
        (tmp_path / "memory" / "guests" / "bob" / "day0301").mkdir(parents=True)
        (tmp_path / "memory" / "guests" / "bob" / "day0301" / "part1.txt").write_text(
            "손님 bob의 말:\nbob zq999x\n", encoding="utf-8")
        bob = httpx.delete(f"{url}/guests/bob", headers=auth())
        assert bob.status_code == 200 and bob.json()["guest"] == "bob"
    for root in ("memory", "memory_backup"):
        assert files_holding(tmp_path / root, b"zq0") == []
        assert files_holding(tmp_path / root, b"zq999x") == []
    assert (tmp_path / "memory" / PART).read_text(encoding="utf-8").count(TOMBSTONE) == LINES + 1


def _appends(server: Server, stop: threading.Event, acked: list[str], cycle: int) -> None:
    i = 0
    while not stop.is_set():
        prompt = f"append c{cycle} i{i} 새로운 이야기"
        try:
            r = httpx.post(server.url + "/api/ask", json={"prompt": prompt}, headers=auth(),
                           timeout=10)
            if r.status_code == 200 and r.json()["memory"]["saved"]:
                acked.append(prompt)
        except httpx.HTTPError:
            return
        i += 1


def _forgets(server: Server, order: list[int], tried: set[int], acked: set[int]) -> None:
    while order:
        n = order.pop()
        tried.add(n)
        try:
            r = httpx.delete(f"{server.url}/api/memory/lines/day0301/1/{n}?speaker=user",
                             headers=auth(), timeout=10)
        except httpx.HTTPError:
            return
        if r.status_code == 200:
            acked.add(n)


def _derived(memory: Path, n: int) -> tuple[bool, bool]:
    """(whether line n has a vector, whether it has morpheme terms) in the recall database."""
    conn = sqlite3.connect(memory / RECALL_DB)
    try:
        part_id = sqlite3.connect(memory / ".echo_index.sqlite3").execute(
            "SELECT id FROM parts WHERE path=?", (PART,)).fetchone()[0]
        rowid = rowid_of(part_id, n)
        vec = conn.execute("SELECT 1 FROM vectors WHERE rowid=?", (rowid,)).fetchone()
        terms = conn.execute("SELECT terms FROM morphs WHERE rowid=?", (rowid,)).fetchone()
    finally:
        conn.close()
    return vec is not None, bool(terms and terms[0])


def test_kill_9_during_forgets_and_appends_loses_no_other_line(tmp_path: Path) -> None:
    build(tmp_path)
    rng = random.Random(9)
    order = rng.sample(range(2, LINES + 2), LINES)
    tried: set[int] = set()
    forgot: set[int] = set()
    appended: list[str] = []
    for cycle in range(4):
        with run_server(tmp_path, **ENV) as server:
            server.wait_ready()
            stop = threading.Event()
            workers = [threading.Thread(target=_appends, args=(server, stop, appended, cycle)),
                       threading.Thread(target=_forgets, args=(server, order, tried, forgot))]
            for worker in workers:
                worker.start()
            before, deadline = len(forgot), time.monotonic() + 20
            while len(forgot) == before and order and time.monotonic() < deadline:
                time.sleep(0.02)  # some progress in every cycle, then a kill at random
            time.sleep(rng.uniform(0.0, 0.5))
            server.proc.kill()  # SIGKILL, mid-forget or mid-append
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
    with run_server(tmp_path, **ENV) as server:  # the start completes interrupted forgets
        server.wait_ready()
    memory, backup = tmp_path / "memory", tmp_path / "memory_backup"
    lines = physical_lines((memory / PART).read_bytes())
    assert physical_lines((backup / PART).read_bytes()) == lines
    assert len(lines) == LINES + 1 and len(forgot) >= 4
    for n in range(2, LINES + 2):
        there = lines[n - 1].decode() == f"비밀 줄 {n}번 {token_of(n)} 바다 이야기"
        gone = lines[n - 1].decode() == TOMBSTONE
        assert there != gone and (there or n in tried), n
        holders = files_holding(memory, token_of(n).encode()) + files_holding(
            backup, token_of(n).encode())
        vec, terms = _derived(memory, n)
        if gone:
            assert holders == [] and not vec and not terms, (n, holders, vec, terms)
        else:  # its terms may be gone with a forgotten neighbour's (contextual terms)
            assert n not in forgot and PART in holders and vec, (n, holders)
    enrich_all(memory)  # the indexer's next pass makes those terms again, without the lines
    for n in range(2, LINES + 2):
        gone = lines[n - 1].decode() == TOMBSTONE
        vec, terms = _derived(memory, n)
        assert (vec, terms) == (not gone, not gone), (n, vec, terms)
        if gone:
            assert files_holding(memory, token_of(n).encode()) == [], n
    said = [t for p in discover(memory)[0]
            for _, who, t in parse_lines(decode_part(p.path.read_bytes()))[0] if who == "origin"]
    assert appended and set(appended) <= set(said)  # every acknowledged turn is intact
