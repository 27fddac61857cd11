"""Recall: the lines a prompt brings to the circuits, from several paths fused by rank.

Paths: BM25 over morphemes, dense e5 vectors, and (when those are thin: the enrichment
is not complete, or the two found fewer than k lines) trigrams. Their scores are fused by
a weighted sum of each path's scores min-max normalised over its best DEPTH lines (a
convex combination; a line a path did not return counts 0 there): dense weighs 1, the
lexical paths the share of the prompt's terms that occur in the archive at all, so an
English prompt over Korean lines leans on meaning, not on a stray shared word. (Issue 23:
this replaced reciprocal-rank fusion, which lost a path's margins; LoCoMo recall@10 0.737
-> 0.752 with the same weights, the Korean sets equal or better: BENCHMARKS.md.) Then the
best WIDEN_HITS hits are widened to their turn (up to TURN_RADIUS neighbouring lines of the
same speaker) and their exchange (a question brings the reply that followed it, a reply the
question it answered); a text (nearly) equal to one already taken is dropped, so `k` slots
hold k different lines, and of identical texts the copy whose turn fits the prompt best is
the one kept (core/memory/recall/distinct.py). A prompt that names a time ("last week",
"지난주", "작년") favours the lines said then (core/memory/recall/when.py). `k` counts the
lines returned, widened turns included.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from core.memory import search as ms
from core.memory.index import MemoryIndex
from core.memory.recall import lexical
from core.memory.recall.bm25 import MorphIndex
from core.memory.recall.dense import DenseIndex
from core.memory.recall.embed import Embedder, shared_embedder
from core.memory.recall.lines import PATHS, PartCache, RecallHit
from core.memory.recall.store import FORGETS, PROGRESS, RecallStore
from core.memory.recall.terms import TermSource, shared_analyzer
from core.memory.recall.when import time_window
from core.memory.rows import Candidate

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PATHS", "Recaller", "RecallHit"]

log = logging.getLogger(__name__)

DEPTH = 50  # lines each path contributes to the fusion (its scores normalised over them)
TURN_RADIUS = 1  # neighbouring lines of the same speaker's turn added to a hit
WIDEN_HITS = 2  # the best hits widened to their turn (more pushed relevant lines out)
DISTINCT = True  # (near-)identical texts count once (core/memory/recall/distinct.py)
EXCHANGES = True  # a widened question brings its reply, a reply its question
COPIES = True  # of identical texts, the copy whose turn fits best stands for them
DATES = True  # a prompt that names a time favours the lines said then (when.py)
COPIES_HEAD = 1  # copies of one text compared among the first COPIES_HEAD * k (3: +9 ms p50, 300k)
# Postings are rebuilt once dead slots (lines written again: a re-analysis after an
# ENRICH_VERSION change rewrites every line) reach the live ones plus this many
RENEW_DEAD_SLOTS = 10_000
# a line said when the prompt says ("last week") gains this: a path's best line's score
TIME_BONUS = 1.0
# The lexical paths' weight (times the share above) for a prompt written mostly in Hangul:
# learned by benchmarks/learn_fusion.py on Korean paraphrase pairs that the benchmark does
# not ask (Debian's catalogues, pairs 301-551); other prompts keep 1 (no English data that is
# not the benchmark's is here to learn from).
HANGUL_LEXICAL_WEIGHT = 0.4
HANGUL_SHARE = 0.5  # a prompt is "written in Hangul" when this share of its letters are


class Recaller:
    """Fused recall over one memory root; safe to share between threads."""

    def __init__(
        self,
        index: MemoryIndex,
        analyzer: TermSource | None = None,
        embedder: Embedder | None = None,
        wait_for_models: bool = True,
        year: int | None = None,
    ) -> None:
        """`wait_for_models=False` (the server): until `warm()` has finished, a recall skips
        the morpheme and dense paths instead of loading e5 and the postings itself."""
        self.index = index
        self.wait_for_models = wait_for_models
        self.distinct = DISTINCT
        self.exchanges = EXCHANGES
        self.copies = COPIES
        self.dates = DATES
        self.hangul_lexical_weight = HANGUL_LEXICAL_WEIGHT
        # lines whose terms each line's BM25 terms hold (the store's, lexical.TERMS_SPAN)
        self.terms_span = lexical.TERMS_SPAN
        self.warmed = threading.Event()
        self.store = RecallStore(index.memory_dir, writer=False)
        self.dense = DenseIndex(index.memory_dir, self.store)
        self.morphs = MorphIndex()
        self.parts = PartCache(Path(index.db_path), year)
        self.today: Callable[[], date] = date.today
        self._analyzer = analyzer
        self._embedder = embedder
        self._lock = threading.Lock()
        self._forgets: object = None  # the forget counter the postings were built after
        self._renewal: threading.Thread | None = None

    @property
    def analyzer(self) -> TermSource:
        """Kiwi (in this process unless given another source), loaded on first use."""
        if self._analyzer is None:
            self._analyzer = shared_analyzer()
        return self._analyzer

    @property
    def embedder(self) -> Embedder:
        """e5, loaded on first use."""
        if self._embedder is None:
            self._embedder = shared_embedder()
        return self._embedder

    def warm(self) -> None:
        """Load Kiwi, e5 and the morpheme postings now: the first recall would wait for them."""
        self.analyzer.terms("기억 memory")
        self.embedder.query("기억 memory")
        self._forgets = self.store.get_meta(FORGETS)
        with contextlib.suppress(sqlite3.Error):  # no recall database yet: later
            self.morphs.catch_up(self.store)
        self.warmed.set()

    def _renew_after_forget(self) -> None:
        """A forgotten line's terms stay keys of the postings in memory (its slot is dead):
        after a forget, new postings are built in the background and replace these; so too
        when the dead slots reach the live ones plus RENEW_DEAD_SLOTS (lines analysed again)."""
        forgets = self.store.get_meta(FORGETS)
        dead = self.morphs.slots - self.morphs.lines
        with self._lock:
            stale = dead >= max(self.morphs.lines, 1) + RENEW_DEAD_SLOTS
            if (forgets == self._forgets and not stale) or (
                    self._renewal and self._renewal.is_alive()):
                return
            self._forgets = forgets
            self._renewal = threading.Thread(target=self._rebuild_morphs, daemon=True,
                                             name="echo-morph-renewal")
            self._renewal.start()

    def _rebuild_morphs(self) -> None:
        fresh = MorphIndex()
        try:
            fresh.catch_up(self.store)
        except sqlite3.Error as exc:
            log.warning("rebuilding the morpheme postings failed: %s", exc)
            return
        self.morphs = fresh

    def recall(self, prompt: str, k: int = 10, path: str = "fused") -> list[RecallHit]:
        """The best lines for a prompt, best first: `path` is 'fused' or one of PATHS."""
        if path != "fused" and path not in PATHS:
            raise ValueError(f"unknown recall path {path!r}")
        prompt = ms.normalize_query(prompt)
        k = max(0, min(int(k), 1000))
        if not prompt or k == 0:
            return []
        scored, weights = self._ranked(prompt, path, max(DEPTH, k), k)
        ranked = {name: [rowid for rowid, _ in found] for name, found in scored.items()}
        if path != "fused":
            return self.parts.hits(ranked.get(path, [])[:k], ranked)
        scores = _fuse(scored, weights)
        if self.dates and (window := time_window(prompt, self.today())) is not None:
            self._favour(scores, window)
        fused = sorted(scores, key=lambda r: (-scores[r], -r))
        if self.distinct and self.copies:  # which copy of a repeated text stands for it
            fused = self.parts.distinct_copies(fused, scores, TURN_RADIUS, COPIES_HEAD * k)
        return self.parts.widened(fused, ranked, k, TURN_RADIUS, WIDEN_HITS,
                                  distinct=self.distinct, exchanges=self.exchanges)

    def _favour(self, scores: dict[int, float], window: tuple[date, date]) -> None:
        """Lines said in the span of time the prompt names gain a rank-1 path's score."""
        first, last = window
        for rowid, when in self.parts.dates(list(scores)).items():
            if when is not None and first <= when <= last:
                scores[rowid] += TIME_BONUS

    def context_for(self, prompt: str, k: int = 8) -> list[RecallHit]:
        """What the circuits get for a prompt (the fused recall; never raises)."""
        try:
            return self.recall(prompt, k)
        except Exception as exc:  # memory must never stop an answer
            log.warning("recall failed: %s", exc)
            return []

    def _ranked(
        self, prompt: str, path: str, depth: int, k: int
    ) -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
        """Each path's (rowid, score) ranking, best first, and its weight in the fusion."""
        ranked: dict[str, list[tuple[int, float]]] = {}
        vector: Future[np.ndarray] | None = None
        if not self.wait_for_models and not self.warmed.is_set():
            ranked["trigram"], _ = self._trigram(prompt, depth, max(self.parts.line_count(), 1))
            return ranked, {"trigram": 1.0}
        if path in ("fused", "dense"):
            vector = self.embedder.query_async(prompt)  # e5 works while the morphemes run
        lines = max(self.parts.line_count(), 1)
        share = 1.0
        if path in ("fused", "morpheme"):
            ranked["morpheme"], share = self._morpheme(prompt, depth, lines)
        if vector is not None:
            ranked["dense"] = self._dense(vector, depth)
        held = 0.0
        if path == "trigram" or (path == "fused" and self._thin(ranked, k)):
            ranked["trigram"], held = self._trigram(prompt, depth, lines)
        lexical_weight = self.hangul_lexical_weight if hangul(prompt) else 1.0
        # each lexical path weighs the share of the prompt's terms its own index holds: the
        # trigram path joins when the morphemes are behind (a line just said is in the
        # trigram table seconds before its morphemes), so it cannot borrow theirs
        return ranked, {"morpheme": share * lexical_weight, "dense": 1.0,
                        "trigram": held * lexical_weight}

    def _morpheme(
        self, prompt: str, depth: int, lines: int
    ) -> tuple[list[tuple[int, float]], float]:
        """((rowid, BM25 score) best first, share of the prompt's terms the archive holds:
        the lexical paths' weight)."""
        try:
            self._renew_after_forget()
            self.morphs.catch_up(self.store)
            terms, share = lexical.morpheme_terms(self.analyzer, self.morphs, prompt, lines,
                                                   self.terms_span)
            return self.morphs.scored(terms, depth), share
        except sqlite3.Error as exc:
            log.warning("morpheme recall failed: %s", exc)
            return [], 1.0

    def _dense(self, vector: Future[np.ndarray], depth: int) -> list[tuple[int, float]]:
        try:
            return self.dense.scored(vector.result(), depth)
        except sqlite3.Error as exc:
            log.warning("dense recall failed: %s", exc)
            return []

    def _trigram(
        self, prompt: str, depth: int, lines: int
    ) -> tuple[list[tuple[int, float]], float]:
        """((rowid, score) best first, the share of the prompt's terms found in its
        candidates); the score falls linearly with the rank (the trigram ranking keeps no
        score of its own)."""
        try:
            with self.parts.connection() as conn:
                terms, pool = lexical.trigram_pool(conn, prompt, lines)
            texts = self.parts.texts(pool)
            rows = [Candidate(r, None, texts[r]) for r in pool if r in texts]
            short = [t for t in terms if ms.phrase_match(t) is None]
            if not rows and short:  # "바다": under 3 characters, not in the trigram table
                rows = self.index.lines_holding(short, lexical.TRIGRAM_POOL)
            best = [c.rowid for c in ms.rank_terms(rows, terms, lines, depth)]
            held = sum(1 for t in terms if any(t in c.text.casefold() for c in rows))
            return ([(rowid, float(len(best) - i)) for i, rowid in enumerate(best)],
                    held / len(terms) if terms else 0.0)
        except sqlite3.Error as exc:
            log.warning("trigram recall failed: %s", exc)
            return [], 0.0

    def _thin(self, ranked: dict[str, list[tuple[int, float]]], k: int) -> bool:
        """Whether the trigram path should join: the other paths found fewer than k lines
        together, or the enrichment has not reached every line yet."""
        found = {rowid for name in ("morpheme", "dense") for rowid, _ in ranked.get(name, [])}
        if len(found) < k:
            return True
        doc = self.store.get_meta(PROGRESS) or {}
        total = int(doc.get("total", 0))
        return bool(total == 0 or doc.get("done", 0) < total or doc.get("morph_done", 0) < total)

    def close(self) -> None:
        """Free the connections."""
        self.parts.close()
        self.store.close()


def hangul(text: str) -> bool:
    """Whether at least HANGUL_SHARE of the text's letters are Hangul."""
    letters = [ch for ch in text if ch.isalpha()]
    korean = sum(1 for ch in letters if "\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e")
    return bool(letters) and korean >= HANGUL_SHARE * len(letters)


def _fuse(
    scored: dict[str, list[tuple[int, float]]], weights: dict[str, float]
) -> dict[int, float]:
    """Each line's fused score: the weighted sum of its paths' scores, each path's min-max
    normalised over the lines it returned (its best 1, its last 0; a line it did not
    return 0)."""
    fused: dict[int, float] = {}
    for path, found in scored.items():
        if not found:
            continue
        weight = weights.get(path, 1.0)
        values = [score for _, score in found]
        low, span = min(values), max(values) - min(values)
        for rowid, score in found:
            norm = (score - low) / span if span > 0 else 1.0
            fused[rowid] = fused.get(rowid, 0.0) + weight * norm
    return fused
