"""Forgetting with the real parts: files, SQLite (raw bytes, WAL included), vectors, graph."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from core.errors import BadInput, NotFound
from core.memory.forget import Forgetter, read_audit
from core.memory.forget.journal import JOURNAL_DIR
from core.memory.index import DB_NAME, MemoryIndex
from core.memory.lines import TOMBSTONE, parse_lines
from core.memory.recall.enrich import Enricher, enrich_all
from core.memory.recall.fusion import Recaller
from core.memory.recall.store import HNSW_FILE, RECALL_DB, RecallStore
from core.settings import Settings, load_settings
from tests.core.memory.forget_support import (
    ARCHIVE,
    OTHER,
    PART,
    SECRET,
    SECRET_KO,
    SECRET_KO_LINE,
    SECRET_LINE,
    build_template,
    copy_template,
    files_holding,
    files_holding_number,
    neighbour_terms,
    trigram_terms,
    vector_of,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("forget-template"))


@pytest.fixture
def archive(template: Path, tmp_path: Path) -> Settings:
    copy_template(template, tmp_path)
    return load_settings()


def _part_id(settings: Settings) -> int:
    index = MemoryIndex(settings.memory_dir)
    try:
        return index.known_parts()[PART].id
    finally:
        index.close()


def test_a_forgotten_line_is_gone_from_every_file_and_recall(archive: Settings) -> None:
    memory, backup = archive.memory_dir, archive.memory_backup_dir
    part_id = _part_id(archive)
    blob = vector_of(memory, part_id, SECRET_LINE)
    assert blob is not None
    assert set(files_holding(memory, blob)) == {HNSW_FILE, RECALL_DB}
    assert ".echo_index.sqlite3" in files_holding(memory, SECRET.encode())  # it was there
    assert ".echo_index.sqlite3" in files_holding(memory, "ꙮꙮ".encode())
    assert {"417", "830"} <= trigram_terms(memory)
    assert "blue" in neighbour_terms(memory, part_id, 2)  # the line before holds its terms

    # a server's readers keep both databases open (so closing the forgetter's connections
    # does not checkpoint them): the bytes must be gone from the write-ahead logs regardless
    readers = [sqlite3.connect(memory / name) for name in (DB_NAME, RECALL_DB)]
    for reader in readers:
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    forgetter = Forgetter(archive)
    try:
        done = forgetter.forget(PART, [SECRET_LINE])
    finally:
        forgetter.close()
    assert (memory / f"{DB_NAME}-wal").exists() and (memory / f"{RECALL_DB}-wal").exists()

    assert done.lines == [SECRET_LINE] and done.path == f"memory/{PART}"
    for root in (memory, backup):
        assert files_holding(root, b"4172-8830") == [], root
        assert files_holding(root, b"blue safe") == [], root
    assert files_holding(memory, blob) == []
    assert not {"417", "172", "830"} & trigram_terms(memory)  # no posting left in FTS5
    # the trigram 'ꙮꙮꙮ' is the line's alone: its postings in FTS5's older segments (stored
    # after a prefix shared with the term before it) must be gone too
    assert files_holding(memory, "ꙮꙮ".encode()) == []
    lines = (memory / PART).read_text(encoding="utf-8").split("\n")
    original = ARCHIVE.split("\n")
    assert lines[SECRET_LINE - 1] == TOMBSTONE and len(lines) == len(original)
    assert [x for i, x in enumerate(lines) if i != SECRET_LINE - 1] == [
        x for i, x in enumerate(original) if i != SECRET_LINE - 1]  # every other line kept
    assert (backup / PART).read_bytes() == (memory / PART).read_bytes()
    assert vector_of(memory, part_id, SECRET_LINE) is None
    assert vector_of(memory, part_id, 2) is not None  # its neighbour keeps its vector
    # ...but not the secret's terms its BM25 terms held (contextual terms): the job makes
    # them again from the part as it is now
    store = RecallStore(memory, writer=False)
    try:
        terms = {t for (line,) in store.query("SELECT terms FROM morphs") for t in line.split()}
    finally:
        store.close()
    assert not {"blue", "safe", "4172"} & terms
    enrich_all(memory)
    assert neighbour_terms(memory, part_id, 2) and "blue" not in neighbour_terms(memory, part_id, 2)

    index = MemoryIndex(memory)
    recaller = Recaller(index)
    try:
        for path in ("fused", "morpheme", "dense", "trigram"):
            texts = [h.text for h in recaller.recall("blue safe code 4172-8830", 10, path)]
            assert SECRET not in texts, path
        assert index.search("4172", 5) == [] and index.search("rust", 5)[0].text == OTHER
    finally:
        recaller.close()
        index.close()
        for reader in readers:
            reader.close()


def test_the_audit_log_names_ids_never_text(archive: Settings) -> None:
    forgetter = Forgetter(archive, who="cli")
    try:
        done = forgetter.forget(PART, [SECRET_KO_LINE])
    finally:
        forgetter.close()
    log = archive.origin_dir / "forget_audit.jsonl"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert SECRET_KO.encode() not in log.read_bytes() and "사칠일".encode() not in log.read_bytes()
    [record] = read_audit(archive.origin_dir)
    assert record["id"] == done.id and record["who"] == "cli" and record["kind"] == "line"
    assert record["rel"] == PART and record["lines"] == [SECRET_KO_LINE] and record["time"]
    assert list((archive.origin_dir / JOURNAL_DIR).iterdir()) == []  # the intent is done


def test_a_turn_is_forgotten_whole_and_the_speakers_after_it_stay(archive: Settings) -> None:
    forgetter = Forgetter(archive)
    try:
        done = forgetter.forget(PART, [SECRET_KO_LINE], turn=True)
    finally:
        forgetter.close()
    assert done.lines == [6, 7, 8]  # the header, the secret, the next line of the same turn
    text = (archive.memory_dir / PART).read_text(encoding="utf-8")
    kept, _ = parse_lines(text)
    assert SECRET_KO not in text and "산책" not in text and SECRET in text
    assert [(n, s) for n, s, _ in kept if n >= 9] == [(10, "echo"), (11, "echo"), (13, "origin")]


def test_bad_requests_say_what_is_wrong(archive: Settings) -> None:
    forgetter = Forgetter(archive)
    try:
        with pytest.raises(BadInput, match="header"):
            forgetter.forget(PART, [1])
        with pytest.raises(NotFound):
            forgetter.forget(PART, [99])
        with pytest.raises(NotFound):
            forgetter.forget("day0301/user/part7.txt", [1])
        for bad in ("../etc/passwd", "day0301/../../x/part1.txt", "day0301/guests/part1.txt"):
            with pytest.raises(BadInput):
                forgetter.forget(bad, [1])
        forgetter.forget(PART, [SECRET_LINE])
        with pytest.raises(NotFound, match="already forgotten"):
            forgetter.forget(PART, [SECRET_LINE])
    finally:
        forgetter.close()
    assert (archive.memory_dir / PART).read_text(encoding="utf-8").count(TOMBSTONE) == 1


def test_the_job_does_not_write_back_a_line_forgotten_under_its_feet(archive: Settings) -> None:
    memory = archive.memory_dir
    enricher = Enricher(memory)  # holds the graph in memory, as the indexer process does
    try:
        stale = next(p for p in enricher.parts() if p.path == PART)  # read before the forget
        blob = vector_of(memory, stale.id, SECRET_LINE)
        assert blob is not None
        forgetter = Forgetter(archive)
        try:
            forgetter.forget(PART, [SECRET_LINE])
        finally:
            forgetter.close()
        assert enricher._fill_morphs(stale) == 0  # its lines changed: nothing written
        while enricher.step():
            pass
        enricher.close()
        assert files_holding(memory, blob) == [] and files_holding_number(memory, "4172") == []
        assert vector_of(memory, stale.id, SECRET_LINE) is None
    finally:
        enricher.close()
    enrich_all(memory)  # a later run of the job re-adds nothing
    assert files_holding_number(memory, "4172") == [] and files_holding(memory, blob) == []


def test_the_job_keeps_going_after_a_forget(archive: Settings) -> None:
    forgetter = Forgetter(archive)
    try:
        forgetter.forget(PART, [SECRET_LINE])
    finally:
        forgetter.close()
    path = archive.memory_dir / PART
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("새로 추가한 고양이 이야기\n")
    from core.memory.replay import replay_archive
    from tests.core.memory.forget_support import REPO

    replay_archive(archive.memory_dir, REPO / "manifest")
    enrich_all(archive.memory_dir)
    recaller = Recaller(MemoryIndex(archive.memory_dir))
    try:
        hits = recaller.recall("고양이", 3, path="morpheme")
        assert hits and hits[0].line == 14
    finally:
        recaller.close()
        recaller.index.close()


def test_a_guest_tree_is_forgotten_whole(
    archive: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.memory.callers import CallerMemory
    from core.memory.store import MemoryStore
    from core.origin import guest as guest_caller

    guest = archive.memory_dir / "guests" / "bob"
    mirror = archive.memory_backup_dir / "guests" / "bob"
    callers = CallerMemory(archive, MemoryStore(archive))  # as the server holds it, open
    try:
        with monkeypatch.context() as patch:  # said on another day than the turn after
            patch.setattr(MemoryStore, "today", lambda self: "day0101")
            said = callers.save_turn("bob의 비밀 7777", "알겠어요", caller=guest_caller("bob"))
        assert said.saved
        assert callers.lines_of(["bob"], "비밀 7777", 3) and mirror.is_dir()
        forgetter = Forgetter(archive)
        try:
            done = forgetter.forget_guest("bob")
            with pytest.raises(NotFound):
                forgetter.forget_guest("bob")
            with pytest.raises(BadInput):
                forgetter.forget_guest("../x")
        finally:
            forgetter.close()
        assert done.guest == "bob" and not guest.exists() and not mirror.exists()
        for root in (archive.memory_dir, archive.memory_backup_dir):
            assert files_holding(root, b"7777") == []
            assert os.listdir(root / "guests") == []
        assert read_audit(archive.origin_dir)[-1]["guest"] == "bob"
        # the open store follows its deleted index: nothing of before, and the guest goes on
        assert callers.lines_of(["bob"], "비밀 7777", 3) == []
        assert callers.save_turn("새 이야기 8888", "네", caller=guest_caller("bob")).saved
        assert [g.text for g in callers.lines_of(["bob"], "이야기 8888", 3)] == ["새 이야기 8888"]
        assert callers.lines_of(["bob"], "비밀 7777", 3) == []
        assert files_holding(archive.memory_dir, b"7777") == []
    finally:
        callers.close()


CRASH = """
import os, sys
from core.memory.forget import forgetter
from core.settings import load_settings
step = sys.argv[1]
def die(*args, **kwargs):
    os._exit(9)  # as kill -9: no cleanup, no finally
setattr(forgetter, step, die)
forgetter.Forgetter(load_settings()).forget(sys.argv[2], [int(sys.argv[3])])
"""


@pytest.mark.parametrize("step", ["atomic_write", "reindex_part", "scrub_recall"])
def test_a_forget_killed_at_any_step_is_whole_after_recovery(archive: Settings, step: str) -> None:
    import subprocess
    import sys

    from tests.core.memory.support import child_env

    memory, backup = archive.memory_dir, archive.memory_backup_dir
    blob = vector_of(memory, _part_id(archive), SECRET_LINE)
    died = subprocess.run([sys.executable, "-c", CRASH, step, PART, str(SECRET_LINE)],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert died.returncode == 9, died.stderr
    assert len(list((archive.origin_dir / "forget_journal").iterdir())) == 1
    forgetter = Forgetter(archive)
    try:
        assert forgetter.recover() == (0 if step == "atomic_write" else 1)
    finally:
        forgetter.close()
    assert list((archive.origin_dir / "forget_journal").iterdir()) == []
    assert (memory / PART).read_bytes().count(b"\n") == ARCHIVE.count("\n")
    if step == "atomic_write":  # killed before the commit point: the line is fully there
        assert (memory / PART).read_text(encoding="utf-8") == ARCHIVE
        assert (backup / PART).read_text(encoding="utf-8") == ARCHIVE
        assert vector_of(memory, _part_id(archive), SECRET_LINE) == blob
        assert read_audit(archive.origin_dir) == []
    else:  # after it: completed, everywhere
        assert blob is not None
        for root in (memory, backup):
            assert files_holding(root, b"4172-8830") == [] and files_holding(root, blob) == []
        assert vector_of(memory, _part_id(archive), SECRET_LINE) is None
        assert read_audit(archive.origin_dir)[0]["recovered"] is True


def test_a_warm_recaller_lets_go_of_the_line_in_memory(archive: Settings) -> None:
    from core.memory.rows import rowid_of

    recaller = Recaller(MemoryIndex(archive.memory_dir))
    try:
        recaller.warm()
        rowid = rowid_of(_part_id(archive), SECRET_LINE)
        [(terms,)] = recaller.store.query("SELECT terms FROM morphs WHERE rowid=?", (rowid,))
        others = {t for line in ARCHIVE.splitlines() if line != SECRET
                  for t in recaller.analyzer.terms(line)}
        own = set(terms.split()) & set(recaller.analyzer.terms(SECRET)) - others
        # its neighbours' terms hold them too (contextual terms): they go with it
        assert own and own <= set(recaller.morphs.docs)  # e.g. the safe's number
        assert recaller.recall("blue safe 4172-8830", 3, "dense")  # the graph is mapped
        forgetter = Forgetter(archive)
        try:
            forgetter.forget(PART, [SECRET_LINE])
        finally:
            forgetter.close()
        hits = recaller.recall("blue safe 4172-8830", 10, "morpheme")
        assert SECRET not in [h.text for h in hits]
        assert recaller._renewal is not None
        recaller._renewal.join(30)
        assert not own & set(recaller.morphs.docs)  # new postings, without its terms
        assert SECRET not in [h.text for h in recaller.recall("blue safe 4172-8830", 10)]
        view = recaller.dense._view
        assert view is None or rowid not in view or not any(view.get(rowid))
    finally:
        recaller.close()
        recaller.index.close()


def test_stale_copies_left_by_killed_writers_go_too(archive: Settings) -> None:
    memory, backup = archive.memory_dir, archive.memory_backup_dir
    for root in (memory, backup):  # what an append or a graph save killed mid-write leaves
        (root / PART).with_name(".part1.txt.4242.1.tmp").write_text(ARCHIVE, encoding="utf-8")
    (memory / f"{HNSW_FILE}.tmp").write_bytes((memory / HNSW_FILE).read_bytes())
    forgetter = Forgetter(archive)
    try:
        forgetter.forget(PART, [SECRET_LINE])
    finally:
        forgetter.close()
    for root in (memory, backup):
        assert files_holding(root, b"4172-8830") == []
    assert not (memory / f"{HNSW_FILE}.tmp").exists()


def test_a_said_text_equal_to_the_tombstone_is_kept() -> None:
    from core.memory.lines import escape_line, needs_escape

    assert needs_escape(TOMBSTONE)  # written escaped, so it is read back, not dropped
    kept, _ = parse_lines(f"나의 말:\n{escape_line(TOMBSTONE)}\n{TOMBSTONE}\n")
    assert kept.texts == [TOMBSTONE] and kept.numbers == [2]


def test_a_forgotten_turn_keeps_its_idempotency_key_but_not_its_digest(archive: Settings) -> None:
    from core.memory.store import MemoryStore

    store = MemoryStore(archive)
    try:
        saved = store.save_turn("금고 번호는 5150-6060", "알겠어", idempotency_key="k1")
        rel = saved.path.split("/", 1)[1] if saved.path else ""
        conn = sqlite3.connect(archive.memory_dir / DB_NAME)
        digest = conn.execute("SELECT digest FROM turns").fetchone()[0]
        assert digest
        forgetter = Forgetter(archive, store.index)
        forgetter.forget(rel, [2], turn=True)
        assert conn.execute("SELECT digest, done FROM turns").fetchone() == ("", 1)
        conn.close()
        again = store.save_turn("금고 번호는 5150-6060", "알겠어", idempotency_key="k1")
        assert again.duplicate  # a retry is still saved once
        assert b"5150" not in (archive.memory_dir / rel).read_bytes()
    finally:
        store.index.close()
