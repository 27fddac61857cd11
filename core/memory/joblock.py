"""The one-indexer lock: one enrichment job per memory root, across processes (flock).

Its own module, with the standard library only, so that the indexer process and the
enrichment code both take it without importing each other.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".echo_recall.lock"


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
