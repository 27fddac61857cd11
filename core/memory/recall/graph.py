"""The background job's HNSW graph (the writing side): add and replace vectors, save it.

usearch, float16, cosine, saved beside the recall database as `.echo_vectors.usearch`
(temp + rename) with the last seq it holds recorded in the recall database; missing or
corrupt, it is rebuilt from the vectors. Servers read the saved file (dense.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.memory.recall.store import (
    DIM,
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
            self.index, self.seq = _new_index(), 0
        else:
            self.index, self.seq = index, saved
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
        _, first = np.unique(keys[::-1], return_index=True)  # the last vector of a key wins
        keep = np.sort(len(keys) - 1 - first)
        self.index.add(keys[keep], vectors[keep], threads=1)

    def pending_removals(self) -> list[int]:
        """Rowids of forgotten lines still to wipe from the graph (see vector_scrub)."""
        return [r for (r,) in self.store.query(f"SELECT rowid FROM {REMOVALS}")]

    def save(self, seq: int) -> None:
        """Write the graph (temp + rename), then record the seq it holds."""
        with graph_lock(self.path.parent):
            pending = self.pending_removals()
            # a rowid with a vector row again (a line embedded anew after its old vector was
            # queued) keeps its new vector; every other pending key is wiped
            live = {r for (r,) in self.store.query(
                f"SELECT v.rowid FROM vectors v JOIN {REMOVALS} g ON g.rowid = v.rowid")}
            wipe_keys(self.index, [r for r in pending if r not in live])
            temp = self.path.with_name(self.path.name + ".tmp")
            self.index.save(str(temp))
            os.replace(temp, self.path)
            with self.store.transaction() as conn:
                self.store.put_meta(conn, HNSW_SEQ, seq)
                conn.executemany(f"DELETE FROM {REMOVALS} WHERE rowid=?", [(r,) for r in pending])
