"""A small archive indexed with the real parts (FTS5, Kiwi, e5, usearch) for the forget tests."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

from core.memory.recall.enrich import enrich_all
from core.memory.recall.store import RECALL_DB
from core.memory.replay import replay_archive
from core.memory.rows import FTS_TABLES, rowid_of

REPO = Path(__file__).resolve().parents[3]
SECRET = "the code for the blue safe is 4172-8830 ꙮꙮꙮ"
SECRET_KO = "파란 금고 비밀번호는 사칠일이 팔팔삼공이야"
PART = "day0301/user/part1.txt"
ARCHIVE = f"""나의 말:
어제 친구랑 영화를 봤는데 정말 재미있었어
{SECRET}
에코의 말:
그 번호는 잘 기억해 둘게
나의 말:
{SECRET_KO}
오늘은 강아지랑 한강 공원에 산책을 갔어
에코의 말:
좋은 하루였구나
날씨도 맑았지
나의 말:
I bought a new laptop for programming in Rust
"""
SECRET_LINE = 3  # physical line numbers in ARCHIVE
SECRET_KO_LINE = 7
OTHER = "I bought a new laptop for programming in Rust"


def build_template(root: Path) -> Path:
    """memory/ and memory_backup/ under `root`, replayed and fully enriched."""
    memory = root / "memory"
    for base in (memory, root / "memory_backup"):
        (base / PART).parent.mkdir(parents=True, exist_ok=True)
        (base / PART).write_text(ARCHIVE, encoding="utf-8")
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    return root


def copy_template(template: Path, dest: Path) -> Path:
    """A private copy of the indexed archive (no connection is open on the template)."""
    for name in ("memory", "memory_backup"):
        shutil.copytree(template / name, dest / name, dirs_exist_ok=True)
    return dest


def files_holding(root: Path, needle: bytes) -> list[str]:
    """Every file under `root` whose raw bytes hold `needle` (SQLite files, WAL included)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


def files_holding_number(root: Path, number: str) -> list[str]:
    """Every file under `root` whose raw bytes hold `number` as a number of its own, not as
    digits inside a longer one (a progress document's timestamp like 1796331663.41725
    holds any four digits now and then)."""
    pattern = re.compile(rb"(?<![0-9.])" + re.escape(number.encode()) + rb"(?![0-9])")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and pattern.search(p.read_bytes()))


def vector_of(memory: Path, part_id: int, line: int) -> bytes | None:
    """A line's stored vector blob, or None."""
    conn = sqlite3.connect(memory / RECALL_DB)
    try:
        row = conn.execute("SELECT vec FROM vectors WHERE rowid=?",
                           (rowid_of(part_id, line),)).fetchone()
    finally:
        conn.close()
    return None if row is None else bytes(row[0])


def neighbour_terms(memory: Path, part_id: int, line: int) -> list[str]:
    """A line's BM25 terms as the recall database holds them ([] when none)."""
    conn = sqlite3.connect(memory / RECALL_DB)
    try:
        row = conn.execute("SELECT terms FROM morphs WHERE rowid=?",
                           (rowid_of(part_id, line),)).fetchone()
    finally:
        conn.close()
    return [] if row is None else row[0].split()


def trigram_terms(memory: Path) -> set[str]:
    """Every term the FTS5 index holds postings for."""
    conn = sqlite3.connect(memory / ".echo_index.sqlite3")
    try:
        terms: set[str] = set()
        for table in FTS_TABLES:
            conn.execute(f"CREATE VIRTUAL TABLE temp.v_{table} USING fts5vocab(main, {table}, row)")
            terms |= {t for (t,) in conn.execute(f"SELECT term FROM temp.v_{table}")}
        return terms
    finally:
        conn.close()
