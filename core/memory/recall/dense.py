"""Nearest lines to a query vector (the query side): the saved graph, memory-mapped, plus
an exact search over the vectors written since it was saved.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.memory.recall.store import FORGETS, HNSW_FILE, HNSW_SEQ, RecallStore, decode_vectors

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# Candidates the graph keeps while searching (usearch's default is 64). At 303,892 e5-shaped
# line vectors, 64 found 0.82 of a prompt's exact 50 nearest lines, 128 found 0.91 (+0.5 ms),
# 256 found 0.96 (+1.5 ms; +3.6 ms on the scale benchmark's stand-ins).
# See benchmarks/bench_hnsw_shape.py.
SEARCH_EXPANSION = 128
# Up to this many lines the saved vectors are searched exactly (every vector compared, usearch's
# exact search over the same file): 0.75 ms at 3,264 lines, ~8 ms at 50,000, about the graph's
# 9.6 ms at 303,892 (exactly: 50 ms). Exact search finds the true nearest lines, where a graph
# that lost many nodes to removals (forgets, lines written again) does not: on the Korean
# benchmark's archive, after 35% of its nodes left, the graph found 97.5% of the exact top 10
# (dense recall@10 0.937, exactly 0.947) and nothing at all for some queries.
EXACT_LINES = 50_000


class DenseIndex:
    """Nearest lines to a query vector: the saved graph plus the newest vectors, exactly."""

    def __init__(self, memory_dir: Path, store: RecallStore) -> None:
        self.path = Path(memory_dir) / HNSW_FILE
        self.store = store
        self._lock = threading.Lock()
        self._view: Any = None
        self._stamp: tuple[int, int, int] | None = None
        self._forgets: object = None  # the forget counter last seen (a change drops the cache)
        self._seq = 0
        self._keys: Any = None  # the vectors newer than the graph (numpy arrays, or None)
        self._mat: Any = None

    def search(self, query: np.ndarray, n: int) -> list[int]:
        """Line rowids, nearest first."""
        return [rowid for rowid, _ in self.scored(query, n)]

    def scored(self, query: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(rowid, cosine similarity) of the nearest lines, nearest first."""
        import numpy as np

        with self._lock:
            self._refresh()
            found: list[tuple[float, int]] = []
            if self._view is not None and len(self._view):
                matches = self._view.search(query, min(n, len(self._view)), threads=1,
                                            exact=len(self._view) <= EXACT_LINES)
                found += [(float(d), int(k)) for k, d in zip(matches.keys, matches.distances,
                                                             strict=True)]
            if self._keys is not None and len(self._keys):
                sims = self._mat @ query
                top = np.argsort(-sims)[:n] if len(sims) <= n else np.argpartition(-sims, n)[:n]
                found += [(1.0 - float(sims[i]), int(self._keys[i])) for i in top]
        found.sort()
        best: dict[int, float] = {}
        for distance, key in found:
            best.setdefault(key, 1.0 - distance)
        return list(best.items())[:n]

    def _refresh(self) -> None:
        import numpy as np

        stamp = _stamp(self.path)
        forgets = self.store.get_meta(FORGETS)
        if stamp != self._stamp or forgets != self._forgets:
            self._forgets = forgets
            seq = self.store.get_meta(HNSW_SEQ)  # read before the file: never newer than it
            self._view = _view(self.path) if stamp is not None else None
            self._seq = seq if isinstance(seq, int) and self._view is not None else 0
            self._keys, self._mat = None, None
            self._stamp = stamp
        try:
            rows = self.store.query(
                "SELECT rowid, seq, vec FROM vectors WHERE seq > ? ORDER BY seq", (self._seq,)
            )
        except sqlite3.Error as exc:
            log.warning("vector store unreadable: %s", exc)
            return
        if rows:
            keys = np.asarray([r[0] for r in rows], dtype=np.int64)
            mat = decode_vectors([r[2] for r in rows])
            if self._keys is not None:
                keys, mat = np.concatenate([self._keys, keys]), np.concatenate([self._mat, mat])
            self._keys, self._mat = keys, mat
            self._seq = rows[-1][1]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _view(path: Path) -> Any:
    try:
        from usearch.index import Index

        view: Any = Index.restore(str(path), view=True)  # None: not a usearch file
        if view is not None:
            view.expansion_search = SEARCH_EXPANSION
        return view
    except Exception as exc:  # the job rebuilds a corrupt graph; until then: exact search
        log.warning("vector graph unreadable (%s): searching the vectors exactly", exc)
        return None
