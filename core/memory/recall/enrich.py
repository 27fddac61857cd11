"""The enrichment job: morpheme terms and vectors for every indexed line, part by part.

One `Enricher.step()` does a bounded piece of work and commits it: the morphemes of a
few parts (newest first), or one batch of line vectors. Progress lives in the recall
database, so a job killed at any moment (kill -9 included) resumes where it stopped:
a part's morphemes are one transaction, each vector batch is one transaction, and a
line whose vector matches its text's digest is never embedded again. A part that grew
(an appended turn) gets only its new lines embedded.

Forgetting (core/memory/forget/) changes parts under the job's feet: every write checks,
inside its transaction, that the part is still the one its lines were read from (else the
work is dropped and redone), so a forgotten line is never written back; seqs are taken from
the database, not a counter; the graph wipes forgotten lines before its next save.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.memory.index import DB_NAME
from core.memory.insight import note_recall_skipped
from core.memory.joblock import job_lock
from core.memory.lines import PartLines
from core.memory.recall.embed import Embedder, shared_embedder
from core.memory.recall.graph import HnswFile
from core.memory.recall.store import (
    PROGRESS,
    RecallStore,
    digest_of,
    encode_vector,
    queue_graph_removals,
)
from core.memory.recall.terms import (
    CONTEXT,
    TERMS_CONTEXT,
    Analyzer,
    contextual_terms,
    passages,
    shared_analyzer,
    stream,
)
from core.memory.rows import LINE_BITS, decode_lines, rowid_of

log = logging.getLogger(__name__)

BATCH = 16  # lines embedded per transaction: ~1 s on one core, so new turns wait little
MORPH_PARTS = 8  # parts analysed per step
SAVE_EVERY_S = 30.0  # how often the HNSW graph is written while embedding, at least...
SAVE_S_PER_1000 = 1.0  # ...plus this per 1,000 vectors (300k: every ~5 min; servers search
# the vectors written since the last save exactly)
RETRY_FAILED_S = 600.0  # a part that failed is tried again after this (or when it changes)
# Part of every part's signature: a change to what is indexed or embedded (new version)
# re-analyses the morphemes; vectors are re-made only where a line's passage digest differs.
# 4: a line's BM25 terms hold its neighbours' (morphemes.TERMS_CONTEXT): every part's
# morphemes are analysed again; vectors stay (a line is still embedded alone).
ENRICH_VERSION = 4


def signature(path: str, size: int, mtime_ns: int, context: tuple[int, int] = CONTEXT,
              terms_context: tuple[int, int] = TERMS_CONTEXT) -> str:
    """A part's signature: what was indexed (version, neighbours in a passage) and of which
    file (path, size, mtime): a part whose signature changed is analysed again."""
    what = f"{ENRICH_VERSION}:{context[0]},{context[1]}:{terms_context[0]},{terms_context[1]}"
    return f"{what}|{path}|{size}|{mtime_ns}"


@dataclass(frozen=True)
class PartSig:
    """A part of the index as the job sees it: id, path and signature."""

    id: int
    path: str
    lines: int
    sig: str


class Enricher:
    """Fills the recall database from the index, one bounded step at a time."""

    def __init__(
        self,
        memory_dir: Path,
        analyzer: Analyzer | None = None,
        embedder: Embedder | None = None,
        context: tuple[int, int] = CONTEXT,
        terms_context: tuple[int, int] = TERMS_CONTEXT,
    ) -> None:
        self.memory_dir = Path(memory_dir)
        # neighbours (before, after) in what is embedded / analysed for a line; a store is
        # always filled with the same ones (the benchmark's previous path: (0, 0) and (0, 0))
        self.context = context
        self.terms_context = terms_context
        self.store = RecallStore(self.memory_dir)
        self._analyzer = analyzer
        self._embedder = embedder
        self._index: sqlite3.Connection | None = None
        self.hnsw = HnswFile(self.memory_dir, self.store)
        self.hnsw.open()
        self.seq = int(self.store.query("SELECT coalesce(max(seq), 0) FROM vectors")[0][0])
        self.morph_seq = int(self.store.query("SELECT coalesce(max(seq), 0) FROM morphs")[0][0])
        self.done = int(self.store.query("SELECT count(*) FROM vectors")[0][0])
        self.rate: float | None = None
        self.failed: dict[int, tuple[str, float, str, str]] = {}  # id -> sig, when, path, why
        self._noted: list[dict[str, str]] = []  # what insight.json says was skipped
        self._saved_at = time.monotonic()
        self._saved_seq = self.hnsw.seq

    @property
    def analyzer(self) -> Analyzer:
        """Kiwi, loaded on first use."""
        if self._analyzer is None:
            self._analyzer = shared_analyzer()
        return self._analyzer

    @property
    def embedder(self) -> Embedder:
        """e5, loaded on first use."""
        if self._embedder is None:
            self._embedder = shared_embedder()
        return self._embedder

    def step(self) -> int:
        """One bounded piece of work; returns the lines it handled (0: nothing to do).

        A part whose work raises is skipped (reported in the progress document and in
        insight.json) and tried again after RETRY_FAILED_S, or at once when it changes: one
        bad part never blocks the others."""
        parts = self.parts()
        enriched = {r[0]: (r[1], r[2]) for r in self.store.query(
            "SELECT part_id, morph, vec FROM enriched")}
        self._prune(set(enriched) - {p.id for p in parts})
        todo = [p for p in parts if not self._skipping(p)]
        morph = [p for p in todo if enriched.get(p.id, (None, None))[0] != p.sig]
        handled = sum(self._guarded(self._fill_morphs, p) for p in morph[:MORPH_PARTS])
        self._save_graph()  # at once when a forget left removals
        if not handled:
            vec = [p for p in todo if enriched.get(p.id, (None, None))[1] != p.sig]
            handled = self._embed_some(vec)
        self._report(parts, enriched, handled)
        return handled

    def _guarded(self, work: Callable[[PartSig], int], part: PartSig) -> int:
        try:
            return work(part)
        except Exception as exc:  # one bad part never stops the job
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.warning("recall indexing skips %s for now: %s", part.path, reason)
            self.failed[part.id] = (part.sig, time.monotonic(), part.path, reason)
            return 0

    def _skipping(self, part: PartSig) -> bool:
        failed = self.failed.get(part.id)
        if failed is None:
            return False
        sig, at, _, _ = failed
        if sig != part.sig or time.monotonic() - at >= RETRY_FAILED_S:
            del self.failed[part.id]  # changed, or time to try again
            return False
        return True

    def skipped(self) -> list[dict[str, str]]:
        """The parts skipped for now, with the reason."""
        return [{"path": path, "reason": reason}
                for _, _, path, reason in sorted(self.failed.values(), key=lambda f: f[2])]

    def parts(self) -> list[PartSig]:
        """Every part the index holds, newest first."""
        if self._index is None:
            if not (self.memory_dir / DB_NAME).exists():
                return []
            self._index = sqlite3.connect(self.memory_dir / DB_NAME, timeout=60,
                                          check_same_thread=False)
        try:
            rows = self._index.execute(
                "SELECT id, path, size, mtime_ns, lines FROM parts ORDER BY id DESC"
            ).fetchall()
        except sqlite3.OperationalError:  # no index yet: the replay has not run
            return []
        return [PartSig(i, path, n, self._signature(path, size, mtime))
                for i, path, size, mtime, n in rows]

    def _lines(self, part: PartSig) -> PartLines:
        assert self._index is not None
        row = self._index.execute(
            "SELECT body, numbers, speakers FROM parts WHERE id=?", (part.id,)
        ).fetchone()
        return PartLines() if row is None else decode_lines(*row)

    def _fill_morphs(self, part: PartSig) -> int:
        lines = self._lines(part)
        terms = contextual_terms(self.analyzer.terms_many(
            passages(lines.speakers, lines.texts, (0, 0))), self.terms_context)
        lo, hi = _bounds(part.id)
        want = {rowid_of(part.id, n): stream(t) for n, t in zip(lines.numbers, terms, strict=True)}
        have = dict(self.store.query(
            "SELECT rowid, terms FROM morphs WHERE rowid BETWEEN ? AND ?", (lo, hi)))
        gone = {r: "" for r, t in have.items() if r not in want and t}
        changed = [(r, t) for r, t in {**want, **gone}.items() if have.get(r) != t]
        with self.store.transaction() as conn:
            if not self._unchanged(part):
                return 0  # forgotten or appended meanwhile: the next step reads it again
            self._write_morphs(conn, changed)
            conn.execute(
                "INSERT INTO enriched(part_id, path, morph) VALUES (?, ?, ?) ON CONFLICT(part_id)"
                " DO UPDATE SET path=excluded.path, morph=excluded.morph",
                (part.id, part.path, part.sig),
            )
        return max(len(lines.texts), 1)

    def _write_morphs(self, conn: sqlite3.Connection, rows: list[tuple[int, str]]) -> None:
        """Write changed lines' terms ('' = gone) with new seqs, for readers to catch up."""
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM morphs").fetchone()[0]
        self.morph_seq = max(self.morph_seq, int(top))  # a forget writes seqs too
        conn.executemany(
            "INSERT OR REPLACE INTO morphs(rowid, seq, terms) VALUES (?, ?, ?)",
            [(r, self.morph_seq + i, t) for i, (r, t) in enumerate(rows, start=1)],
        )
        self.morph_seq += len(rows)

    def _embed_some(self, parts: list[PartSig]) -> int:
        for part in parts:
            handled = self._guarded(self._embed_part, part)
            if handled:
                return handled
        self._save_graph(force=True)
        return 0

    def _embed_part(self, part: PartSig) -> int:
        """One batch of a part's missing vectors (0: the part is complete, now marked so)."""
        lines = self._lines(part)
        lo, hi = _bounds(part.id)
        have = dict(self.store.query(
            "SELECT rowid, digest FROM vectors WHERE rowid BETWEEN ? AND ?", (lo, hi)))
        want = dict(zip((rowid_of(part.id, n) for n in lines.numbers),
                        passages(lines.speakers, lines.texts, self.context), strict=True))
        missing = [(r, t, d) for r, t in want.items() if have.get(r) != (d := digest_of(t))]
        stale = [r for r in have if r not in want]
        if not missing:
            self._finish_part(part, stale)
            return 0
        return self._embed(part, missing[:BATCH], have)

    def _embed(self, part: PartSig, batch: list[tuple[int, str, int]],
               have: dict[int, int]) -> int:
        started = time.monotonic()
        vectors = self.embedder.passages([t for _, t, _ in batch])
        rows = [(r, d, self.seq + i + 1, encode_vector(v))
                for i, ((r, _, d), v) in enumerate(zip(batch, vectors, strict=True))]
        with self.store.transaction() as conn:
            if not self._unchanged(part):
                return 0  # forgotten or appended meanwhile: the next step reads it again
            conn.executemany(
                "INSERT OR REPLACE INTO vectors(rowid, digest, seq, vec) VALUES (?,?,?,?)", rows)
        self.seq += len(rows)
        self.done += sum(1 for r, _, _ in batch if r not in have)
        self.hnsw.put([r for r, _, _ in batch], vectors)
        self.hnsw.seq = self.seq
        rate = len(batch) / max(time.monotonic() - started, 1e-6)
        self.rate = rate if self.rate is None else 0.8 * self.rate + 0.2 * rate
        self._save_graph()
        return len(batch)

    def _unchanged(self, part: PartSig) -> bool:
        """Whether the index still holds the part as it was when its lines were read."""
        assert self._index is not None
        row = self._index.execute(
            "SELECT path, size, mtime_ns FROM parts WHERE id=?", (part.id,)).fetchone()
        return row is not None and self._signature(*row) == part.sig

    def _signature(self, path: str, size: int, mtime_ns: int) -> str:
        return signature(path, size, mtime_ns, self.context, self.terms_context)

    def _finish_part(self, part: PartSig, stale: list[int]) -> None:
        with self.store.transaction() as conn:
            conn.executemany("DELETE FROM vectors WHERE rowid=?", [(r,) for r in stale])
            queue_graph_removals(conn, stale)  # gone from the graph too, at the next save
            conn.execute("UPDATE enriched SET vec=? WHERE part_id=?", (part.sig, part.id))
        self.done -= len(stale)

    def _prune(self, gone: set[int]) -> None:
        """Forget the parts that left the index."""
        for part_id in gone:
            lo, hi = _bounds(part_id)
            have = self.store.query(
                "SELECT rowid FROM morphs WHERE rowid BETWEEN ? AND ? AND terms != ''", (lo, hi))
            with self.store.transaction() as conn:
                self._write_morphs(conn, [(r, "") for (r,) in have])
                queue_graph_removals(conn, [r for (r,) in conn.execute(
                    "SELECT rowid FROM vectors WHERE rowid BETWEEN ? AND ?", (lo, hi))])
                removed = conn.execute(
                    "DELETE FROM vectors WHERE rowid BETWEEN ? AND ?", (lo, hi)).rowcount
                conn.execute("DELETE FROM enriched WHERE part_id=?", (part_id,))
            self.done -= max(removed, 0)

    def _save_graph(self, force: bool = False) -> None:
        every = SAVE_EVERY_S + SAVE_S_PER_1000 * len(self.hnsw.index) / 1000
        due = force or time.monotonic() - self._saved_at >= every
        forgotten = bool(self.hnsw.pending_removals())  # wiped from the file at once
        if forgotten:
            self.done = int(self.store.query("SELECT count(*) FROM vectors")[0][0])
        if forgotten or (due and self.hnsw.seq != self._saved_seq):
            self.hnsw.save(self.hnsw.seq)
            self._saved_seq = self.hnsw.seq
            self._saved_at = time.monotonic()

    def _report(self, parts: list[PartSig], enriched: dict[int, Any], handled: int) -> None:
        total = sum(p.lines for p in parts)
        morph = sum(p.lines for p in parts if enriched.get(p.id, (None,))[0] == p.sig)
        done = max(0, min(self.done, total))
        rate = round(self.rate, 2) if self.rate else None
        skipped = self.skipped()
        doc: dict[str, Any] = {
            "state": "running" if handled else "idle",
            "done": done,
            "total": total,
            "morph_done": morph,
            "lines_per_s": rate,
            "eta_s": round((total - done) / self.rate) if self.rate and done < total else None,
            "updated": time.time(),
            "skipped": skipped,
        }
        with self.store.transaction() as conn:
            self.store.put_meta(conn, PROGRESS, doc)
        if skipped != self._noted and note_recall_skipped(self.memory_dir, skipped):
            self._noted = skipped

    def close(self) -> None:
        """Save the graph and close the databases."""
        self._save_graph(force=True)
        if self._index is not None:
            self._index.close()
            self._index = None
        self.store.close()


def _bounds(part_id: int) -> tuple[int, int]:
    return rowid_of(part_id, 0), rowid_of(part_id, (1 << LINE_BITS) - 1)


def enrich_all(
    memory_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    context: tuple[int, int] = CONTEXT,
    terms_context: tuple[int, int] = TERMS_CONTEXT,
) -> None:
    """Fill morphemes and vectors for every line the index holds, now (the job's code)."""
    with job_lock(Path(memory_dir), wait=True):
        enricher = Enricher(Path(memory_dir), context=context, terms_context=terms_context)
        try:
            while enricher.step():
                if progress is not None:
                    doc = enricher.store.get_meta(PROGRESS) or {}
                    progress(int(doc.get("done", 0)), int(doc.get("total", 0)))
        finally:
            enricher.close()
