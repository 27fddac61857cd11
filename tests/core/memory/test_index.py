"""The FTS5 trigram index: search, context, odd input, incremental builds, concurrency."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from core.boot_memory_loop import replay_archive
from core.memory import replay
from core.memory.index import MemoryIndex
from core.memory.rows import FTS_TABLES, SearchHit, fts_rowids
from core.memory.search import phrase_match
from core.settings import Settings
from tests.core.memory.support import start_writer

PART = "\n".join(
    [
        "\ufeff나의 말:",  # line 1
        "",  # line 2 (dropped)
        "복사",  # line 3 (dropped)
        "오늘은 에코브레인의 기억을 복기하자",  # line 4
        "ChatGPT의 말:",  # line 5
        "좋아, 오리진. memory replay 시작!",  # line 6
        "가",  # line 7
    ]
)


@pytest.fixture
def archive(settings: Settings, write_part: Callable[..., Path]) -> MemoryIndex:
    """A small archive, replayed."""
    write_part("day0320/user/part3.txt", PART)
    write_part("day0321/part1.txt", "다른 날 에코브레인 이야기\r\nEcho Brain in English\r\n")
    replay_archive(settings.memory_dir, settings.manifest_dir)
    return MemoryIndex(settings.memory_dir)


def test_korean_phrase_inside_a_word_gives_day_part_line(archive: MemoryIndex) -> None:
    hits = archive.search("브레인의 기")
    assert hits == [
        SearchHit("day0320", 3, 4, "오늘은 에코브레인의 기억을 복기하자",
                  "memory/day0320/user/part3.txt", "origin")
    ]
    assert hits[0].as_dict()["line"] == 4 and hits[0].as_dict()["path"].startswith("memory/")
    assert {h.day for h in archive.search("코브레")} == {"day0320", "day0321"}


def test_search_is_a_phrase_search_not_a_bag_of_trigrams(archive: MemoryIndex) -> None:
    assert archive.search("replay memory") == []
    assert [h.line for h in archive.search("MEMORY REPLAY")] == [6]


def test_short_queries_fall_back_to_like(archive: MemoryIndex) -> None:
    assert [(h.day, h.line) for h in archive.search("가")] == [("day0320", 7)]
    assert [h.line for h in archive.search("오리")] == [6]


@pytest.mark.parametrize(
    "query",
    ['"', "a\"b", "AND", "NOT OR", "(((", "*", "x*y", "NEAR(a b)", "-", ":", "%_%", "'; DROP",
     "\x00", "  ", "col:val", "^abc", "a" * 5000, "\\"],
)
def test_odd_queries_never_raise(archive: MemoryIndex, query: str) -> None:
    assert isinstance(archive.search(query), list)
    assert isinstance(archive.context_for(query), list)


def test_context_for_ranks_lines_that_share_the_prompt_terms(archive: MemoryIndex) -> None:
    hits = archive.context_for("에코브레인 기억에 대해서 말해줘, 복기는?")
    assert hits and hits[0].text == "오늘은 에코브레인의 기억을 복기하자"
    assert archive.context_for("") == [] and archive.context_for("?!") == []


def test_line_count_and_headers_folded(archive: MemoryIndex, settings: Settings) -> None:
    assert archive.line_count() == 5
    archive.close()
    assert archive.line_count() == 5  # reopens


def test_incremental_replay_reads_only_changed_parts(
    archive: MemoryIndex, settings: Settings, write_part: Callable[..., Path]
) -> None:
    second = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert second["parts_read"] == 0 and second["lines"] == 5
    write_part("day0321/part1.txt", "바뀐 내용 한 줄\n")
    write_part("day0322/part2.txt", "새 파트\n")
    third = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert third["parts_read"] == 2 and third["parts_unchanged"] == 1
    assert archive.search("에코브레인 이야기") == []
    assert [h.day for h in archive.search("바뀐 내용")] == ["day0321"]
    (settings.memory_dir / "day0322" / "part2.txt").unlink()
    assert replay_archive(settings.memory_dir, settings.manifest_dir)["parts"] == 2
    assert archive.search("새 파트") == []


def _rows(settings: Settings) -> tuple[int, int, list[tuple[str, int, str]]]:
    """(FTS rows, lines the parts hold, every part's path, line count and text)."""
    conn = sqlite3.connect(settings.memory_dir / ".echo_index.sqlite3")
    try:
        for table in FTS_TABLES:
            conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 0)")
        match = phrase_match("번째 기억 문장")
        rowids = fts_rowids(conn, match, 10**6)
        assert len(rowids) == len(set(rowids))
        fts = len(rowids)
        total = conn.execute("SELECT total(lines) FROM parts").fetchone()[0]
        parts = conn.execute("SELECT path, lines, body FROM parts ORDER BY path").fetchall()
        return fts, int(total), parts
    finally:
        conn.close()


def _big_archive(write_part: Callable[..., Path]) -> None:
    for day in range(1, 5):
        for part in range(1, 16):
            lines = (f"나의 말:\n{day}일 {part}번 파트의 {i}번째 기억 문장" for i in range(20))
            body = "\n".join(lines)
            write_part(f"day04{day:02d}/part{part}.txt", body + "\n")


def test_cold_build_on_two_cores_matches_the_inline_build(
    settings: Settings, write_part: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _big_archive(write_part)
    monkeypatch.setattr(replay, "_can_fork", lambda: False)
    inline = replay_archive(settings.memory_dir, settings.manifest_dir)
    inline_rows = _rows(settings)
    hits = [h.as_dict() for h in MemoryIndex(settings.memory_dir).search("일 3번 파트의 7번째")]
    for db in settings.memory_dir.glob(".echo_index.sqlite3*"):
        db.unlink()
    monkeypatch.setattr(replay, "_can_fork", lambda: True)
    forked = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert forked["lines"] == inline["lines"] == 1200
    assert _rows(settings) == inline_rows
    again = MemoryIndex(settings.memory_dir).search("일 3번 파트의 7번째")
    assert [h.as_dict() for h in again] == hits
    assert len(hits) == 4


def test_two_processes_replaying_at_once_leave_a_consistent_index(
    settings: Settings, write_part: Callable[..., Path]
) -> None:
    _big_archive(write_part)
    procs = [start_writer("replay") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == ["LINES 1200", "LINES 1200"]
    fts, total, parts = _rows(settings)
    assert fts == total == 1200 and len({p[0] for p in parts}) == len(parts) == 60
    assert len(MemoryIndex(settings.memory_dir).search("일 2번 파트의 5번째")) == 4


def test_an_index_of_the_single_table_layout_is_rebuilt_into_the_shards(
    settings: Settings, write_part: Callable[..., Path]
) -> None:
    settings.memory_dir.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(settings.memory_dir / ".echo_index.sqlite3")
    old.executescript(
        "CREATE VIRTUAL TABLE lines_fts USING fts5(text, tokenize='trigram', content='',"
        " detail=none, columnsize=0); INSERT INTO lines_fts(rowid, text) VALUES (1, 'old');"
        " PRAGMA user_version=2;")
    old.close()
    write_part("day0320/part1.txt", "나의 말:\n새 배치의 기억 한 줄\n")
    replay_archive(settings.memory_dir, settings.manifest_dir)
    index = MemoryIndex(settings.memory_dir)
    assert [h.line for h in index.search("배치의 기억")] == [2]
    conn = sqlite3.connect(settings.memory_dir / ".echo_index.sqlite3")
    try:
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
        assert "lines_fts" not in tables and set(FTS_TABLES) <= tables
    finally:
        conn.close()


def test_a_part_lives_in_one_trigram_table_and_searches_ask_all(
    settings: Settings, write_part: Callable[..., Path]
) -> None:
    for day in range(1, 21):  # 20 parts: more than the tables, so several share one
        write_part(f"day03{day:02d}/part1.txt", f"나의 말:\n공통 문장 그리고 날 {day}\n")
    replay_archive(settings.memory_dir, settings.manifest_dir)
    conn = sqlite3.connect(settings.memory_dir / ".echo_index.sqlite3")
    try:
        per_table = [len(fts_rowids_of(conn, t)) for t in FTS_TABLES]
        assert sum(per_table) == 20 and sum(1 for n in per_table if n) == 16
        newest = fts_rowids(conn, phrase_match("공통 문장"), 5, newest=True)
        assert newest == sorted(fts_rowids(conn, phrase_match("공통 문장"), 100), reverse=True)[:5]
    finally:
        conn.close()
    assert len(MemoryIndex(settings.memory_dir).search("공통 문장", k=50)) == 20


def fts_rowids_of(conn: sqlite3.Connection, table: str) -> list[int]:
    match = phrase_match("공통 문장")
    query = f"SELECT rowid FROM {table} WHERE {table} MATCH ?"
    return [r for (r,) in conn.execute(query, (match,))]
