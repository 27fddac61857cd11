"""The background indexer: one low-priority process per memory root runs the enrichment.

The server starts it after the boot replay (`IndexerProcess`); `/ready` never waits for
it. It runs at nice 19 with one thread, so
answers stay fast. Every worker of `serve --workers N` starts one, but only the holder
of `.echo_recall.lock` works; the others wait for the lock (a worker that dies frees it)
and every one of them exits when its parent does.

Run by hand: `python -m core.memory.recall.indexer MEMORY_DIR`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.memory.joblock import job_lock

log = logging.getLogger(__name__)

POLL_S = 1.0
LOCK_POLL_S = 2.0


def lower_priority(nice: int = 19) -> None:
    """Nice 19 by default, the lowest ordinary CPU priority (threads started later inherit it).

    Not SCHED_IDLE: on a loaded machine that policy can starve the job for minutes, and
    a new turn must become recallable within seconds; at nice 19 the job gets ~1.5% of
    a core that a normal-priority thread wants.
    """
    with contextlib.suppress(OSError):  # absolute: the thread that started us may be niced
        os.setpriority(os.PRIO_PROCESS, 0, nice)


def run_job(memory_dir: Path, parent: int | None = None) -> None:
    """Wait for the lock, then enrich forever: new lines within seconds, until the parent goes."""
    from core.memory.recall.enrich import Enricher

    def orphaned() -> bool:
        return parent is not None and os.getppid() != parent

    while not orphaned():
        with job_lock(memory_dir, wait=False) as held:
            if held:
                enricher = Enricher(memory_dir)
                try:
                    while not orphaned():
                        if not _step(enricher):
                            time.sleep(POLL_S)
                finally:
                    enricher.close()
                return
        time.sleep(LOCK_POLL_S)


def _step(enricher: Any) -> int:
    try:
        return int(enricher.step())
    except Exception:  # a bad step is retried after a pause, never the end of the job
        log.exception("recall indexing step failed")
        time.sleep(5 * POLL_S)
        return 0


class IndexerProcess:
    """The server's handle on its indexer child process."""

    def __init__(self, memory_dir: Path, nice: int = 19) -> None:
        self.memory_dir = Path(memory_dir)
        self.nice = nice
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the child (low priority, one thread)."""
        env = dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.memory.recall.indexer", str(self.memory_dir),
             "--parent", str(os.getpid()), "--nice", str(self.nice)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )

    @property
    def running(self) -> bool:
        """Whether the child lives."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the child (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the child process."""
    parser = argparse.ArgumentParser(description="Echo Brain recall indexer")
    parser.add_argument("memory_dir", type=Path)
    parser.add_argument("--parent", type=int, default=None)
    parser.add_argument("--nice", type=int, default=19, choices=range(20))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s indexer %(message)s")
    lower_priority(args.nice)
    from core.memory.recall.embed import prepare_engine

    prepare_engine()  # start-up: the only time this process's environment changes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # finally-blocks save the graph
    run_job(args.memory_dir, args.parent)


def read_progress(memory_dir: Path) -> dict[str, Any] | None:
    """The job's last progress record, read without loading anything heavy (None if none)."""
    import json
    import sqlite3

    path = Path(memory_dir) / ".echo_recall.sqlite3"
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key='progress'").fetchone()
        finally:
            conn.close()
        doc = json.loads(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


if __name__ == "__main__":
    main()
