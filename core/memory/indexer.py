"""The background indexer: one low-priority process per memory root runs the enrichment.

The server starts it after the boot replay (`IndexerProcess`); `/ready` never waits for
it. It runs at the lowest CPU priority (SCHED_IDLE, else nice 19) with one thread, so
answers stay fast. Every worker of `serve --workers N` starts one, but only the holder
of `.echo_recall.lock` works; the others wait for the lock (a worker that dies frees it)
and every one of them exits when its parent does.

Run by hand: `python -m core.memory.indexer MEMORY_DIR`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCK_NAME = ".echo_recall.lock"
POLL_S = 1.0
LOCK_POLL_S = 2.0


@contextmanager
def job_lock(memory_dir: Path, wait: bool) -> Iterator[bool]:
    """Hold the one-indexer lock; yields False when `wait` is off and another holds it."""
    memory_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(memory_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def lower_priority() -> None:
    """The lowest CPU priority this process can take (inherited by threads started later)."""
    with contextlib.suppress(OSError):
        os.nice(19)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def run_job(memory_dir: Path, parent: int | None = None) -> None:
    """Wait for the lock, then enrich forever: new lines within seconds, until the parent goes."""
    from core.memory.backfill import Enricher

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

    def __init__(self, memory_dir: Path) -> None:
        self.memory_dir = Path(memory_dir)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the child (low priority, one thread)."""
        env = dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.memory.indexer", str(self.memory_dir),
             "--parent", str(os.getpid())],
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s indexer %(message)s")
    lower_priority()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # finally-blocks save the graph
    run_job(args.memory_dir, args.parent)


if __name__ == "__main__":
    main()
