"""Durable appends: round trip, rollover, idempotency, backup, processes, kill -9, errors."""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import time
from contextlib import closing
from itertools import groupby
from pathlib import Path

import pytest

from core.boot_memory_loop import replay_archive
from core.memory.index import MemoryIndex
from core.memory.rows import decode_lines
from core.memory_core import MemoryStore, SaveResult
from core.settings import Settings, load_settings
from tests.core.memory.support import start_writer

WEIRD = [
    ("첫 줄\n둘째 줄\n셋째", "답 하나\n\n  들여쓴 코드()\n끝\n"),
    ("나의 말:\n에코의 말:\nChatGPT의 말:", "bash\n복사\n편집\nCopy\n"),
    ("\x00nul and \r cr\tand tab", "e\u0301 NFD 그대로 \u1100\u1161"),
    ("\u241e\"not an escape\"", ""),
    ("   ", "\n\n"),
]


def all_parts(root: Path) -> list[Path]:
    """Every part file under a root."""
    return sorted(root.rglob("part*.txt"))


def turns_of(index: MemoryIndex, rels: list[str]) -> list[tuple[str | None, str]]:
    """(speaker, text) runs read back from the index, parts in order."""
    query = "SELECT body, numbers, speakers FROM parts WHERE path=?"
    with closing(sqlite3.connect(index.db_path)) as conn:
        stored = [conn.execute(query, (rel,)).fetchone() for rel in rels]
    lines = [line for row in stored for line in decode_lines(*row)]
    return [(s, "\n".join(x.text for x in run)) for s, run in groupby(lines, lambda x: x.speaker)]


def test_multiline_turns_round_trip_exactly_through_the_replay(settings: Settings) -> None:
    store = MemoryStore(settings)
    paths = [store.save_turn(p, r).path for p, r in WEIRD]
    assert len(set(paths)) == 1 and paths[0] == f"memory/{store.today()}/user/part1.txt"
    insight = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert insight["parts_read"] == 0  # indexed when saved
    store.index.close()
    for db in settings.memory_dir.glob(".echo_index.sqlite3*"):
        db.unlink()
    insight = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert insight["parts_read"] == 1
    index = MemoryIndex(settings.memory_dir)
    expected = [(who, text) for p, r in WEIRD for who, text in (("origin", p), ("echo", r))]
    assert turns_of(index, [f"{store.today()}/user/part1.txt"]) == expected


def test_parts_roll_over_at_the_limit(settings: Settings) -> None:
    store = MemoryStore(settings)
    for i in range(70):  # 6 lines a turn: 65 turns fill 390 lines of part1
        assert store.save_turn(f"질문 {i}\n둘째", f"답 {i}\n둘째").saved
    folder = settings.memory_dir / store.today() / "user"
    counts = [p.read_text(encoding="utf-8").count("\n") for p in all_parts(folder)]
    assert counts == [390, 30]
    assert settings.part_lines == 395


def test_small_part_limit_splits_a_long_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_PART_LINES", "7")
    settings = load_settings()
    store = MemoryStore(settings)
    prompt = "\n".join(f"긴 질문 {i}" for i in range(12))
    store.save_turn("짧게", "응")
    result = store.save_turn(prompt, "답\n끝")
    assert result.saved and result.path is not None
    parts = all_parts(settings.memory_dir)
    assert all(p.read_bytes().count(b"\n") <= 7 for p in parts)
    assert len(parts) >= 3
    replay_archive(settings.memory_dir, settings.manifest_dir)
    rels = [p.relative_to(settings.memory_dir).as_posix() for p in parts]
    rels.sort(key=lambda r: int(re.search(r"part(\d+)", r).group(1)))  # type: ignore[union-attr]
    runs = turns_of(MemoryIndex(settings.memory_dir), rels)
    assert runs == [("origin", "짧게"), ("echo", "응"), ("origin", prompt), ("echo", "답\n끝")]


def test_idempotency_key_saves_once(settings: Settings) -> None:
    store = MemoryStore(settings)
    first = store.save_turn("한 번만", "저장", idempotency_key="abc-1")
    part = settings.memory_dir / first.path.split("/", 1)[1]  # type: ignore[union-attr]
    before = part.read_bytes()
    again = MemoryStore(settings).save_turn("한 번만", "저장", idempotency_key="abc-1")
    assert again.saved and again.duplicate and again.path == first.path
    assert part.read_bytes() == before
    other = store.save_turn("한 번만", "저장", idempotency_key="abc-2")
    assert other.saved and not other.duplicate
    assert part.read_bytes().count("한 번만".encode()) == 2


def test_backup_mirror_is_identical_and_turn_searchable(settings: Settings) -> None:
    index = MemoryIndex(settings.memory_dir)
    store = MemoryStore(settings, index)
    for i in range(5):
        store.save_turn(f"백업 확인 {i}", f"거울처럼 같은 바이트 {i}")
    for part in all_parts(settings.memory_dir):
        rel = part.relative_to(settings.memory_dir)
        assert (settings.memory_backup_dir / rel).read_bytes() == part.read_bytes()
    hits = index.search("같은 바이트 3")
    assert [(h.text, h.speaker, h.line) for h in hits] == [("거울처럼 같은 바이트 3", "echo", 16)]
    assert SaveResult(True, "memory/x").as_dict() == {"saved": True, "path": "memory/x"}


def test_unwritable_tree_reports_and_damages_nothing(settings: Settings) -> None:
    store = MemoryStore(settings)
    assert store.save_turn("먼저 저장된 말", "응").saved
    day = settings.memory_dir / store.today()
    before = {p: p.read_bytes() for p in all_parts(settings.memory_dir)}
    moved = day.with_name("moved")
    day.rename(moved)
    day.write_text("a file where the day folder must go\n", encoding="utf-8")
    result = store.save_turn("저장 안 될 말", "응")
    assert not result.saved and result.error and "저장하지 못했습니다" in result.error
    assert result.as_dict() == {"saved": False, "error": result.error}
    day.unlink()
    moved.rename(day)
    assert {p: p.read_bytes() for p in all_parts(settings.memory_dir)} == before


def test_missing_memory_root_under_a_file_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "blocker").write_text("x", encoding="utf-8")
    monkeypatch.setenv("ECHO_MEMORY_DIR", str(tmp_path / "blocker" / "memory"))
    result = MemoryStore(load_settings()).save_turn("안녕", "응")
    assert not result.saved and "not saved" in (result.error or "")


def test_processes_append_concurrently_exactly_once(settings: Settings) -> None:
    writers = [start_writer(f"w{n}", "60", "--key") for n in range(4)]
    acks = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        acks += [line.split() for line in out.splitlines() if line.startswith("ACK")]
    assert len(acks) == 240
    parts = all_parts(settings.memory_dir)
    text = "".join(p.read_text(encoding="utf-8") for p in parts)
    for _, name, i, _, _ in acks:
        assert text.count(f"prompt {name} {i} ") == 1
    assert all(p.read_bytes().count(b"\n") <= 395 for p in parts) and len(parts) >= 4
    for part in parts:
        rel = part.relative_to(settings.memory_dir)
        assert (settings.memory_backup_dir / rel).read_bytes() == part.read_bytes()
    retry = start_writer("w1", "60", "--key")  # every key again: all duplicates, nothing written
    out, _ = retry.communicate(timeout=120)
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("ACK")] == ["1"] * 60
    assert "".join(p.read_text(encoding="utf-8") for p in all_parts(settings.memory_dir)) == text
    assert MemoryIndex(settings.memory_dir).line_count() == 240 * 5  # 2 prompt + 3 reply lines


def test_kill_9_during_appends_leaves_whole_lines(settings: Settings) -> None:
    rng = random.Random(3)
    acked: set[str] = set()
    for round_ in range(8):
        proc = start_writer(f"k{round_}", "100000")
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        acked |= {" ".join(ln.split()[1:3]) for ln in out.splitlines() if ln.startswith("ACK")}
    assert len(acked) > 8
    line_re = re.compile(r"(나의 말:|에코의 말:|.* end|\u241e\".* end\"|\u241e\"\")")
    text = ""
    for part in all_parts(settings.memory_dir):
        data = part.read_bytes()
        assert data.endswith(b"\n")
        for line in data.decode("utf-8").splitlines():
            assert line_re.fullmatch(line), f"torn line in {part}: {line!r}"
        text += data.decode("utf-8")
        assert data.count(b"\n") <= 395
    for name_i in acked:
        assert f"prompt {name_i} " in text
    store = MemoryStore(settings)
    assert store.save_turn("살아남았다", "응").saved
    assert not list(settings.memory_dir.rglob(".part*.tmp"))
