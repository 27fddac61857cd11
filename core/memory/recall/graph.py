"""The background job's HNSW graph (the writing side): add and replace vectors, save it.

usearch, float16, cosine, saved beside the recall database as `.echo_vectors.usearch`
(temp + rename) with the last seq it holds recorded in the recall database; missing or
corrupt, it is rebuilt from the vectors. Servers read the saved file (dense.py).

A graph worn by removals is built anew too: usearch gives a removed node's slot to the next
key but the graph keeps fewer links (100 keys, 30 removed and added again: 972 -> 787 edges),
and a graph that lost many nodes misses true neighbours (dense.py). Once the keys removed or
replaced since it was built (forgets, lines written again) reach REBUILD_SHARE of its live
keys, the next save builds it from the saved vectors first (off the lock: a forget never
waits for it). At 303,892 lines that took 481 s of the job's one thread here (371 MiB peak),
during which new lines wait for their morphemes and vectors; it comes once a quarter of the
keys have left or changed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.memory.recall.store import (
    DIM,
    HNSW_CHURN,
    HNSW_FILE,
    HNSW_SEQ,
    REMOVALS,
    RecallStore,
    decode_vectors,
    queue_graph_removals,
)
from core.memory.recall.vector_scrub import graph_lock, wipe_keys

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

REBUILD_CHUNK = 4096
REBUILD_SHARE = 0.25  # removed or replaced keys, as a share of the live ones, that wear a graph


def _new_index() -> Any:
    from usearch.index import Index

    return Index(ndim=DIM, metric="cos", dtype="f16")


class HnswFile:
    """The job's own HNSW graph: add and replace vectors, save it for the servers."""

    def __init__(self, memory_dir: Path, store: RecallStore) -> None:
        self.path = Path(memory_dir) / HNSW_FILE
        self.store = store
        self.index: Any = None
        self.seq = 0  # the newest seq the graph holds
        self.churn = 0  # keys removed or replaced since the graph was built

    def open(self) -> None:
        """Load the saved graph and catch up with newer vectors; rebuild when unusable."""
        saved = self.store.get_meta(HNSW_SEQ)
        index = None
        if isinstance(saved, int) and self.path.exists():
            try:
                from usearch.index import Index

                index = Index.restore(str(self.path))
            except Exception as exc:  # a corrupt file is rebuilt
                log.warning("vector graph unreadable (%s): rebuilding it", exc)
        if index is None:
            self.index, self.seq, self.churn = _new_index(), 0, 0
        else:
            churn = self.store.get_meta(HNSW_CHURN)
            self.index, self.seq = index, saved
            self.churn = churn if isinstance(churn, int) else 0
        self.catch_up()
        self._mark_strays()

    def _mark_strays(self) -> None:
        """Queue for wiping every key the graph holds with no vector row (a line that left
        the index while an older version of this code kept its vector in the graph): a
        stray key takes a slot of every dense search and may point at a line that now has
        another text under the same rowid."""
        import numpy as np

        if not len(self.index):
            return
        keys = np.asarray(self.index.keys, dtype=np.int64)
        rows = np.asarray([r for (r,) in self.store.query("SELECT rowid FROM vectors")],
                          dtype=np.int64)
        strays = np.setdiff1d(keys, rows)
        if len(strays):
            log.info("the vector graph holds %d lines without a vector: wiping them", len(strays))
            with self.store.transaction() as conn:
                queue_graph_removals(conn, strays.tolist())

    def catch_up(self) -> int:
        """Add the vectors written after the graph's seq; returns how many."""
        added = 0
        while True:
            rows = self.store.query(
                "SELECT rowid, seq, vec FROM vectors WHERE seq > ? ORDER BY seq LIMIT ?",
                (self.seq, REBUILD_CHUNK),
            )
            if not rows:
                return added
            self.put([r[0] for r in rows], decode_vectors([r[2] for r in rows]))
            self.seq = rows[-1][1]
            added += len(rows)

    def put(self, rowids: list[int], vectors: np.ndarray) -> None:
        """Add (or replace) vectors by line rowid."""
        import numpy as np

        keys = np.asarray(rowids, dtype=np.uint64)
        present = [k for k in rowids if k in self.index]
        if present:
            self.index.remove(np.asarray(present, dtype=np.uint64))
            self.churn += len(present)
        _, first = np.unique(keys[::-1], return_index=True)  # the last vector of a key wins
        keep = np.sort(len(keys) - 1 - first)
        self.index.add(keys[keep], vectors[keep], threads=1)

    def pending_removals(self) -> list[int]:
        """Rowids of forgotten lines still to wipe from the graph (see vector_scrub)."""
        return [r for (r,) in self.store.query(f"SELECT rowid FROM {REMOVALS}")]

    def worn(self) -> bool:
        """Whether enough keys left or changed since the graph was built to build it anew."""
        return self.churn > 0 and self.churn >= REBUILD_SHARE * max(len(self.index), 1)

    def rebuild(self) -> None:
        """Build the graph anew from the saved vectors it holds (seq up to its own)."""
        import numpy as np

        fresh, done, count = _new_index(), 0, 0
        while True:
            rows = self.store.query(
                "SELECT rowid, seq, vec FROM vectors WHERE seq > ? AND seq <= ? ORDER BY seq "
                "LIMIT ?", (done, self.seq, REBUILD_CHUNK))
            if not rows:
                break
            fresh.add(np.asarray([r[0] for r in rows], dtype=np.uint64),
                      decode_vectors([r[2] for r in rows]), threads=1)
            done, count = rows[-1][1], count + len(rows)
        log.info("vector graph built anew: %d lines, %d keys had left or changed",
                 count, self.churn)
        self.index, self.churn = fresh, 0

    def save(self, seq: int) -> None:
        """Write the graph (temp + rename), then record the seq it holds; a worn graph is
        built anew first."""
        if self.worn():
            self.rebuild()
        with graph_lock(self.path.parent):
            pending = self.pending_removals()
            # a rowid with a vector row again (a line embedded anew after its old vector was
            # queued) keeps its new vector; every other pending key is wiped
            live = {r for (r,) in self.store.query(
                f"SELECT v.rowid FROM vectors v JOIN {REMOVALS} g ON g.rowid = v.rowid")}
            gone = [r for r in pending if r not in live]
            self.churn += sum(1 for r in gone if r in self.index)
            wipe_keys(self.index, gone)
            temp = self.path.with_name(self.path.name + ".tmp")
            self.index.save(str(temp))
            os.replace(temp, self.path)
            with self.store.transaction() as conn:
                self.store.put_meta(conn, HNSW_SEQ, seq)
                self.store.put_meta(conn, HNSW_CHURN, self.churn)
                conn.executemany(f"DELETE FROM {REMOVALS} WHERE rowid=?", [(r,) for r in pending])
