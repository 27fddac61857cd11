"""Recall with the real parts: Kiwi morphemes, e5 vectors, usearch, SQLite FTS5."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.memory.index import MemoryIndex
from core.memory.lines import escape_line
from core.memory.recall.dense import SEARCH_EXPANSION
from core.memory.recall.enrich import enrich_all
from core.memory.recall.fusion import Recaller
from core.memory.recall.lines import PartCache
from core.memory.recall.store import HNSW_FILE, RECALL_DB
from core.memory.replay import replay_archive
from core.memory.rows import rowid_of

REPO = Path(__file__).resolve().parents[3]
ARCHIVE = """나의 말:
어제 친구랑 영화를 봤는데 정말 재미있었어
주인공이 마지막에 죽는 장면에서 많이 울었어
에코의 말:
슬픈 장면이었구나. 어떤 영화였어?
나의 말:
내일은 강아지를 데리고 한강 공원에 산책을 가기로 했어
에코의 말:
좋은 생각이야. 날씨가 맑으면 좋겠다
나의 말:
요즘 회사 일이 너무 많아서 잠을 거의 못 자고 있어
에코의 말:
건강이 제일 중요해. 오늘은 일찍 쉬어
나의 말:
I bought a new laptop for programming in Rust
에코의 말:
Nice, Rust is a great language for systems work.
"""


def write_archive(memory: Path, text: str = ARCHIVE, day: str = "day0301", part: int = 1) -> Path:
    folder = memory / day / "user"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part{part}.txt"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def replayed_parts(memory: Path, text: str) -> Iterator[PartCache]:
    """A one-part archive written, replayed (no enrichment) and read through a PartCache."""
    write_archive(memory, text)
    replay_archive(memory, REPO / "manifest")
    index = MemoryIndex(memory)
    cache = PartCache(Path(index.db_path))
    try:
        yield cache
    finally:
        cache.close()
        index.close()


@pytest.fixture(scope="module")
def recaller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recaller]:
    memory = tmp_path_factory.mktemp("recall") / "memory"
    write_archive(memory)
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    found = Recaller(MemoryIndex(memory))
    yield found
    found.close()
    found.index.close()


def test_a_korean_line_is_found_by_a_differently_inflected_query(recaller: Recaller) -> None:
    # the line says 산책을 가기로 했어; the query inflects both words otherwise
    hits = recaller.recall("강아지랑 산책하러 갔던 거 기억나?", 3, path="morpheme")
    assert hits and "산책" in hits[0].text and hits[0].ranks["morpheme"] == 1
    assert (hits[0].day, hits[0].part, hits[0].line, hits[0].speaker) == ("day0301", 1, 7, "origin")
    assert recaller.recall("강아지랑 산책하러 갔던 거 기억나?", 3, path="trigram") == []


def test_an_english_question_finds_a_korean_line(recaller: Recaller) -> None:
    hits = recaller.recall("Why can't I sleep lately? Too much work at the office?", 3, "dense")
    assert "잠을" in hits[0].text, [h.text for h in hits]
    assert hits[0].ranks["dense"] == 1
    fused = recaller.recall("Why can't I sleep lately? Too much work at the office?", 3)
    assert any("잠을" in h.text for h in fused)


def test_the_saved_graph_is_searched_with_the_wider_expansion(recaller: Recaller) -> None:
    recaller.recall("Why can't I sleep lately?", 3, "dense")
    view = recaller.dense._view
    assert view is not None and len(view) > 0
    assert view.expansion_search == SEARCH_EXPANSION > 64  # usearch's default: 64


def test_fused_hits_are_widened_to_their_turn_and_k_counts_lines(recaller: Recaller) -> None:
    hits = recaller.recall("주인공이 죽는 장면", 2)
    assert [h.line for h in hits] == [3, 2]  # the hit, then its turn's other line
    assert hits[1].ranks["morpheme"] is None or hits[1].ranks["morpheme"] > 1
    assert len(recaller.recall("영화", 5)) == 5
    assert recaller.recall("   ", 5) == [] and recaller.recall("영화", 0) == []
    with pytest.raises(ValueError):
        recaller.recall("영화", 3, path="nope")


def test_the_trigram_path_has_no_recency_cut(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    write_archive(memory, "나의 말:\n오래된 노트북 고장 이야기와 바다거북이\n", "day0101")
    newer = "".join(f"노트북 이야기 {i}번째\n" for i in range(2300))
    write_archive(memory, "나의 말:\n" + newer, "day0102")
    replay_archive(memory, REPO / "manifest")
    index = MemoryIndex(memory)
    recaller = Recaller(index)
    try:
        assert "바다거북이" not in " ".join(h.text for h in index.context_for("노트북 바다거북이"))
        hits = recaller.recall("노트북 바다거북이 이야기", 3, path="trigram")
        assert hits and hits[0].day == "day0101" and hits[0].ranks["trigram"] == 1
    finally:
        recaller.close()
        index.close()


def test_a_corrupt_vector_store_is_rebuilt_not_a_crash(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    write_archive(memory, ARCHIVE.split("나의 말:\nI bought")[0])
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    (memory / RECALL_DB).write_bytes(b"this is not a database" * 100)
    (memory / HNSW_FILE).write_bytes(b"nor is this a graph" * 100)
    recaller = Recaller(MemoryIndex(memory))
    try:
        assert recaller.recall("영화", 3, path="dense") == []  # nothing yet, and no crash
        enrich_all(memory)
        hits = recaller.recall("영화 보고 울었던 날", 3, path="dense")
        assert hits and "영화" in hits[0].text + hits[1].text
        assert recaller.recall("영화", 3, path="morpheme")
    finally:
        recaller.close()
        recaller.index.close()


def test_an_appended_line_is_embedded_alone(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    path = write_archive(memory, "나의 말:\n첫 줄이야\n둘째 줄이야\n")
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    before = dict(_seqs(memory))
    path.write_text(path.read_text(encoding="utf-8") + "셋째 줄은 고양이 이야기\n", "utf-8")
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    after = dict(_seqs(memory))
    assert len(after) == 3 and {r: after[r] for r in before} == before
    recaller = Recaller(MemoryIndex(memory))
    try:
        assert recaller.recall("고양이", 1, path="morpheme")[0].line == 4
    finally:
        recaller.close()
        recaller.index.close()


def _seqs(memory: Path) -> list[tuple[int, int]]:
    conn = sqlite3.connect(memory / RECALL_DB)
    try:
        return conn.execute("SELECT rowid, seq FROM vectors").fetchall()
    finally:
        conn.close()


def test_a_server_recaller_answers_from_trigrams_until_its_models_are_warm(
    recaller: Recaller,
) -> None:
    class Refuses:
        """Stands for e5 while it loads: a recall must not wait for it (or load it)."""

        def query(self, text: str) -> None:
            raise AssertionError("the request thread used the embedder before warm()")

        query_async = query

    early = Recaller(recaller.index, analyzer=recaller.analyzer, embedder=Refuses(),  # type: ignore[arg-type]
                     wait_for_models=False)
    try:
        hits = early.recall("주인공이 죽는 장면", 3)
        assert hits and "주인공" in hits[0].text
        assert all(h.ranks.get("dense") is None and h.ranks.get("morpheme") is None
                   for h in hits), [h.ranks for h in hits]
        assert early.recall("주인공이 죽는 장면", 3, path="dense") == []
        # a word under 3 characters is not in the trigram table: the parts are scanned for it
        short = early.recall("영화", 3)
        assert short and "영화" in short[0].text
    finally:
        early.close()
    warm = Recaller(recaller.index, wait_for_models=False)
    try:
        warm.warm()
        hits = warm.recall("Why can't I sleep lately? Too much work at the office?", 3, "dense")
        assert "잠을" in hits[0].text and hits[0].ranks["dense"] == 1
    finally:
        warm.close()


def test_a_question_asked_six_times_brings_its_answer_once(tmp_path: Path) -> None:
    from core.memory_core import MemoryStore
    from core.settings import load_settings

    memory = tmp_path / "memory"
    write_archive(memory, ARCHIVE + "나의 말:\n파란 금고 비밀번호가 뭐였지?\n"
                  "에코의 말:\n파란 금고 비밀번호는 4172-8830 이라고 했어\n", "day0201")
    settings = load_settings(memory_dir=memory, memory_backup_dir=tmp_path / "backup")
    store = MemoryStore(settings)
    for n in range(6):  # the origin asks again and again; the companion forgot each time
        assert store.save_turn("파란 금고 비밀번호가 뭐였지?", f"글쎄, 잘 모르겠어 ({n})").saved
    store.index.close()
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    recaller = Recaller(MemoryIndex(memory))
    try:
        texts = [h.text for h in recaller.recall("파란 금고 비밀번호가 뭐였지?", 6)]
        assert any("4172-8830" in t for t in texts), texts  # the line that answered it
        assert len(texts) == len(set(texts)), texts  # no text twice
        recaller.distinct = recaller.exchanges = False  # the mechanism, shown by its absence
        before = [h.text for h in recaller.recall("파란 금고 비밀번호가 뭐였지?", 6)]
        assert len(set(before)) < len(before)
    finally:
        recaller.close()
        recaller.index.close()


def test_near_identical_texts_count_once() -> None:
    from core.memory.recall.distinct import DistinctTexts

    texts = DistinctTexts()
    assert texts.admit("What was the code for the blue safe?")
    assert not texts.admit("what was the code for the blue safe")  # case, punctuation
    assert not texts.admit("What was the code for the blue safe??!")
    assert not texts.admit("What was the code for the  blue  safes?")  # trigram overlap >= 0.9
    assert texts.admit("What was the code for the red door?")
    assert texts.admit("파란 금고") and not texts.admit("파란  금고!")
    # repeats count: one more name is a different line (plain trigram sets found them equal)
    assert texts.admit("%s, %s, %s이(가) 작성함.") and texts.admit("%s, %s이(가) 작성함.")
    assert not texts.admit("%s, %s, %s이(가) 작성함")


def test_of_identical_texts_the_copy_whose_turn_fits_stands_for_them() -> None:
    from core.memory.recall.distinct import choose_copies

    texts = {1: "Where did we go?", 2: "the lake", 3: "where did we go", 4: "rain"}
    fits = {1: 0.2, 3: 0.9}.get
    assert choose_copies([1, 2, 3, 4], texts, lambda r: fits(r, 0.0)) == [3, 2, 4]
    assert choose_copies([1, 2, 3, 4], texts, lambda r: 0.0) == [1, 2, 4]  # ties: the first
    assert choose_copies([5, 1, 3], texts, lambda r: fits(r, 0.0)) == [5, 3]  # 5: no text


def test_the_copy_of_a_repeated_question_is_the_one_whose_reply_fits(tmp_path: Path) -> None:
    text = ("나의 말:\nWhere did we go on Sunday?\n에코의 말:\nTo the lake, with her sister.\n"
            "나의 말:\nWhere did we go on Sunday?\n에코의 말:\nNowhere, it rained all day.\n")
    with replayed_parts(tmp_path / "memory", text) as cache:
        rowids = [rowid_of(1, n) for n in range(1, 9)]
        by_text: dict[str, list[int]] = {}
        for rowid, line in cache.texts(rowids).items():
            by_text.setdefault(line, []).append(rowid)
        first, second = by_text["Where did we go on Sunday?"]
        lake = by_text["To the lake, with her sister."][0]
        # the second copy ranks first on its own; the first copy's reply answers the prompt
        scores = {second: 1.0, first: 0.9, lake: 0.5}
        order = [second, first, lake]
        chosen = cache.distinct_copies(order, scores, radius=1, head=10)
        assert chosen == [first, lake]
        assert cache.distinct_copies(order, scores, radius=1, head=0) == order  # not compared


def test_a_hangul_prompt_weighs_the_lexical_paths_by_the_learned_weight(
    recaller: Recaller,
) -> None:
    from core.memory.recall.fusion import HANGUL_LEXICAL_WEIGHT, hangul

    assert hangul("강아지랑 산책 갔던 날") and hangul("Rust 공부를 언제 시작했지?")
    assert not hangul("When did I buy the laptop?") and not hangul("1234 !?")
    assert 0 < HANGUL_LEXICAL_WEIGHT < 1  # learned by benchmarks/learn_fusion.py
    try:
        weights = {}
        for weight in (1.0, HANGUL_LEXICAL_WEIGHT):
            recaller.hangul_lexical_weight = weight
            weights[weight] = [recaller._ranked(prompt, "fused", 50, 10)[1]["morpheme"]
                               for prompt in ("강아지 산책", "a new laptop for Rust")]
    finally:
        recaller.hangul_lexical_weight = HANGUL_LEXICAL_WEIGHT
    (ko_plain, en_plain), (ko_learned, en_learned) = weights[1.0], weights[HANGUL_LEXICAL_WEIGHT]
    assert ko_learned == pytest.approx(ko_plain * HANGUL_LEXICAL_WEIGHT) and ko_plain > 0
    assert en_learned == en_plain > 0  # an English prompt keeps the default


def test_a_blank_line_inside_a_reply_is_never_remembered(tmp_path: Path) -> None:
    blank = escape_line("")
    text = f"나의 말:\n바다 이야기 해줘\n에코의 말:\n파도가 밀려와요\n{blank}\n갈매기가 울어요\n"
    with replayed_parts(tmp_path / "memory", text) as cache:
        rowids = [rowid_of(1, n) for n in range(1, 7)]
        texts = [h.text for h in cache.hits(rowids, {})]
        widened = [h.text for h in cache.widened(rowids, {}, 10, radius=1)]
    assert "파도가 밀려와요" in texts and "갈매기가 울어요" in texts
    assert all(t.strip() for t in texts + widened), (texts, widened)


def test_a_line_just_said_is_ranked_by_trigrams_while_its_morphemes_are_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = tmp_path / "memory"
    write_archive(memory)
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    # said after the indexer's last pass: in the trigram table, not yet in the morphemes
    write_archive(memory, "나의 말:\n바다\n에코의 말:\n어제 회사에서 긴 회의를 했는데 중간에 누가 "
                          "바다 사진을 보여줬고 그 뒤로 다시 일만 했어\n", day="day0302")
    replay_archive(memory, REPO / "manifest")
    found = Recaller(MemoryIndex(memory))
    try:
        found.warm()
        monkeypatch.setattr(found, "_thin", lambda ranked, k: True)
        ranked, weights = found._ranked("바다", "fused", 50, 10)
        assert ranked["trigram"] and weights["trigram"] > 0 and weights["morpheme"] == 0
        texts = [h.text for h in found.recall("바다", 10)]
        long = next(t for t in texts if "사진" in t)
        # in the trigram path's order (the short line first), not the rowid's (a zero weight)
        assert "바다" in texts and texts.index("바다") < texts.index(long), texts
    finally:
        found.close()
        found.index.close()
