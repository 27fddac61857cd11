"""What a server process runs for recall after the boot replay, and how far it got.

Once the replay is done (never before: `/ready` does not wait for any of this), a
background thread starts the analyzer child (Kiwi, core/memory/recall/analyzer_process.py) and
loads e5 for the prompts, then starts the indexer process
(core/memory/recall/indexer.py) unless ECHO_RECALL_INDEXER is off. `progress()` is the
`recall` object of `/ready`: integer `done` and `total` line counts (lines with a
vector), `morph_done`, `lines_per_s` and `eta_s`, read from the recall database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from core.memory.recall.analyzer_process import AnalyzerProcess
from core.memory.recall.embed import start_engine_thread
from core.memory.recall.fusion import Recaller
from core.memory.recall.indexer import IndexerProcess
from core.memory.recall.store import PROGRESS
from core.memory.replay import ReplayStatus

log = logging.getLogger(__name__)

WAIT_S = 0.2
SETTLE_MAX_S = 60.0  # the longest the recall models wait for the circuits to load
LOAD_NICE = 10  # the niceness the recall models load at (the loading thread, the Kiwi child)
STALE_S = 30.0  # a progress record older than this, with no indexer running, is not "running"


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's niceness (Linux: each thread has its own); best effort."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class RecallBackground:
    """Warms the recaller and runs the indexer child after the replay."""

    def __init__(
        self,
        recaller: Recaller,
        replay: ReplayStatus,
        indexer: bool,
        nice: int = 19,
        analyzer: AnalyzerProcess | None = None,
        settled: Callable[[], bool] | None = None,
    ) -> None:
        self.recaller = recaller
        self.settled = settled or (lambda: True)
        self.analyzer = analyzer
        self.replay = replay
        self.indexer = IndexerProcess(recaller.index.memory_dir, nice) if indexer else None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.state = "waiting"  # waiting for the replay, then loading, then started
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (returns at once)."""
        self.thread = threading.Thread(target=self._run, name="echo-recall", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and self.replay.snapshot()["state"] not in ("done", "failed"):
            self._stop.wait(WAIT_S)
        # Kiwi and e5 load after the circuits (bounded): on 2 cores their seconds of CPU would
        # otherwise delay /ready. Until then recall answers from the trigram path.
        waited = time.monotonic()
        while (not self._stop.is_set() and not self.settled()
               and time.monotonic() - waited < SETTLE_MAX_S):
            self._stop.wait(WAIT_S)
        if self._stop.is_set():
            return
        with self._lock:
            if self._stop.is_set():
                return
            self.state = "loading"
            if self.analyzer is not None:
                self.analyzer.start()
        start_engine_thread()  # prompts' vectors: at the server's priority, not LOAD_NICE
        lower_thread_priority(LOAD_NICE)  # e5 loads on this thread, which ends afterwards
        try:
            self.recaller.warm()
        except Exception:  # recall falls back to trigrams; the reason goes to the log
            log.exception("loading the recall models failed")
        with self._lock:
            if self.indexer is not None and not self._stop.is_set():
                self.indexer.start()
            self.state = "started"

    def stop(self) -> None:
        """Stop the thread and the indexer child."""
        self._stop.set()
        with self._lock:
            if self.indexer is not None:
                self.indexer.stop()
            if self.analyzer is not None:
                self.analyzer.stop()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def progress(self) -> dict[str, Any]:
        """The `recall` object of /ready."""
        doc = self.recaller.store.get_meta(PROGRESS) or {}
        total, done = int(doc.get("total", 0)), int(doc.get("done", 0))
        fresh = time.time() - float(doc.get("updated", 0)) < STALE_S
        if self.state != "started":
            state = self.state
        elif total and done >= total and int(doc.get("morph_done", 0)) >= total:
            state = "done"
        elif self.indexer is None:
            state = "off"
        else:
            state = "running" if fresh or self.indexer.running else "stopped"
        return {
            "state": state,
            "done": done,
            "total": total,
            "morph_done": int(doc.get("morph_done", 0)),
            "lines_per_s": doc.get("lines_per_s"),
            "eta_s": doc.get("eta_s") if state == "running" else None,
            "skipped": list(doc.get("skipped", [])),  # parts the indexer skips for now
        }
