"""The recall paths the benchmark compares, each as `recall(prompt, k) -> [(day, part, line)]`.

- `today`: `MemoryIndex.context_for` as of 5f19089 (benchmarks/legacy_recall.py);
- `morpheme`, `dense`, `fused` (and `trigram`): the engine's `Recaller`
  (core/memory/recall/fusion.py);
- `morpheme-alone`, `fused-alone` (and `dense-alone` when lines are embedded with their
  neighbours): the same over a copy of the archive whose lines were embedded and indexed
  alone (no neighbours: the path before contextual passages, issue 23 item 4);
- `fused-no-dates`: the fused path with the time favour off (a prompt that names a time,
  "recently", "last year", reads nothing from the lines' dates);
- `bm25s` (PyPI, the library peer) over the same clean lines the index holds: its default
  tokenizer (lowercased, regex `\\b\\w\\w+\\b`, bm25s's English stop words), without and with
  PyStemmer's Snowball English stemmer (`bm25s+stem`).
"""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.legacy_recall import LegacyRecall
from core.memory.index import DB_NAME
from core.memory.rows import decode_lines

Ref = tuple[str, int, int]
Runner = Callable[[str, int], list[Ref]]
ENGINE_PATHS = ("morpheme", "dense", "trigram", "fused")


class Clock:
    """The day the engine's recall takes for today: the day the question being asked is
    asked on (`asked`, set by the benchmark before each query), else the real today."""

    def __init__(self) -> None:
        self.asked: date | None = None

    def today(self) -> date:
        """The engine's `Recaller.today`."""
        return self.asked or date.today()


CLOCK = Clock()


def index_lines(memory: Path) -> list[tuple[Ref, str]]:
    """Every clean line the replay indexed, as ((day, part, line), text), in archive order."""
    conn = sqlite3.connect(memory / DB_NAME)
    try:
        rows = conn.execute(
            "SELECT day, part, body, numbers, speakers FROM parts ORDER BY id").fetchall()
    finally:
        conn.close()
    out = []
    for day, part, *stored in rows:
        for number, _speaker, text in decode_lines(*stored):
            out.append(((day, part, number), text))
    return out


class Bm25Peer:
    """bm25s over the archive's lines."""

    def __init__(self, lines: list[tuple[Ref, str]], stem: bool) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self.refs = [ref for ref, _ in lines]
        self.stemmer = Stemmer.Stemmer("english") if stem else None
        self.model = bm25s.BM25()
        self.model.index(self._tokens([text for _, text in lines], True), show_progress=False)

    def _tokens(self, texts: list[str], ids: bool) -> Any:
        return self._bm25s.tokenize(texts, stemmer=self.stemmer, return_ids=ids,
                                    show_progress=False)

    def recall(self, prompt: str, k: int) -> list[Ref]:
        """The k best lines with a positive score."""
        found = self.model.retrieve(self._tokens([prompt], False), k=min(k, len(self.refs)),
                                    show_progress=False, n_threads=1)
        docs, scores = found.documents[0], found.scores[0]
        return [self.refs[int(d)] for d, s in zip(docs, scores, strict=True) if s > 0]


def engine_available() -> bool:
    """Whether the recall engine (core/memory/recall/fusion.py) is in this tree."""
    return importlib.util.find_spec("core.memory.recall.fusion") is not None


ALONE = "memory-alone"  # the copy of an archive whose lines are embedded and indexed alone
NO_CONTEXT = (0, 0)


def enrich(
    memory: Path, progress: Callable[[int, int], None] | None = None, alone: bool = False
) -> Any:
    """Fill morphemes and vectors for an index the replay built (the engine's backfill);
    `alone`: each line's passage and terms without its neighbours (the previous path)."""
    from core.memory.recall.enrich import enrich_all

    if alone:
        return enrich_all(memory, progress=progress, context=NO_CONTEXT,
                          terms_context=NO_CONTEXT)
    return enrich_all(memory, progress=progress)


def alone_copy(memory: Path) -> Path:
    """The archive's part files copied beside it (same sizes and mtimes, so a copy indexed
    before is reused), for the previous path's own index and vectors. A new copy starts
    from the archive's index and recall database: its terms are analysed again (their
    signature differs) and a vector is made again only where the passage differs."""
    from core.memory.recall.store import HNSW_FILE, RECALL_DB

    copy = memory.parent / ALONE
    if not (copy / RECALL_DB).exists() and (memory / RECALL_DB).is_file():
        copy.mkdir(parents=True, exist_ok=True)
        for name in (DB_NAME, RECALL_DB):
            reader, writer = sqlite3.connect(memory / name), sqlite3.connect(copy / name)
            try:
                reader.backup(writer)
            finally:
                reader.close()
                writer.close()
        if (memory / HNSW_FILE).is_file():
            shutil.copy2(memory / HNSW_FILE, copy / HNSW_FILE)
    want = {p.relative_to(memory) for p in memory.glob("day*/part*.txt")}
    for rel in sorted(want):
        source, target = memory / rel, copy / rel
        same = target.is_file() and (
            (a := source.stat()).st_size == (b := target.stat()).st_size
            and a.st_mtime_ns == b.st_mtime_ns)
        if not same:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for stale in set(copy.glob("day*/part*.txt")) - {copy / rel for rel in want}:
        stale.unlink()
    return copy


def engine_runners(memory: Path) -> tuple[dict[str, Runner], Callable[[], None]]:
    """One runner per engine path over `memory` (and over its ALONE copy when there is
    one), and a function that closes them."""
    from core.memory.index import MemoryIndex
    from core.memory.recall.fusion import Recaller

    index = MemoryIndex(memory)
    recaller = Recaller(index)
    alone_dir = memory.parent / ALONE
    alone_index = MemoryIndex(alone_dir) if (alone_dir / DB_NAME).is_file() else None
    alone = None if alone_index is None else Recaller(alone_index)
    for each in (recaller, alone):
        if each is not None:
            each.today = CLOCK.today
    if alone is not None:
        alone.terms_span = 1  # its terms are each line's own

    def runner(path: str, distinct: bool = True, exchanges: bool = True,
               over: Any = recaller, copies: bool = True, dates: bool = True) -> Runner:
        def run(prompt: str, k: int) -> list[Ref]:
            over.distinct, over.exchanges, over.copies = distinct, exchanges, copies
            over.dates = dates
            return [(h.day, int(h.part), int(h.line))
                    for h in over.recall(prompt, k=k, path=path)]
        return run

    def close() -> None:
        for each in (recaller, index, alone, alone_index):
            if each is not None:
                each.close()

    runners = {path: runner(path) for path in ENGINE_PATHS}
    # the fused path one step at a time (issue 23): lines as before, then distinct texts
    runners["fused-lines"] = runner("fused", distinct=False, exchanges=False)
    runners["fused+distinct"] = runner("fused", distinct=True, exchanges=False)
    runners["fused-first-copy"] = runner("fused", copies=False)  # of identical texts, the first
    runners["fused-no-dates"] = runner("fused", dates=False)  # no time favour
    if alone is not None:  # item 4: the same paths with every line embedded and indexed alone
        from core.memory.recall.terms import CONTEXT

        for path in ("morpheme", "dense", "fused"):
            if path != "dense" or CONTEXT != NO_CONTEXT:  # else the same vectors as `dense`
                runners[f"{path}-alone"] = runner(path, over=alone)
    return runners, close


def all_runners(
    memory: Path, with_engine: bool
) -> tuple[dict[str, Runner], Callable[[], None]]:
    """Every path the benchmark compares over one archive, and a closer."""
    lines = index_lines(memory)
    legacy = LegacyRecall(memory / DB_NAME)
    runners: dict[str, Runner] = {"today": legacy.recall}
    closers: list[Callable[[], None]] = [legacy.close]
    if with_engine:
        engine, close = engine_runners(memory)
        runners.update(engine)
        closers.append(close)
    runners["bm25s"] = Bm25Peer(lines, stem=False).recall
    runners["bm25s+stem"] = Bm25Peer(lines, stem=True).recall

    def close_all() -> None:
        for close in closers:
            close()

    return runners, close_all
