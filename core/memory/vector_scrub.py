"""Wiping forgotten lines' vectors from the saved HNSW graph, and the lock its writers share.

usearch keeps a removed vector's bytes (in memory and in a saved file), so removing a key
is not forgetting it. Two writers touch `.echo_vectors.usearch`: a forget overwrites the
vector's bytes in the saved file in place (`zero_vectors`: fast, no reload of the graph),
and the background job, which holds the graph in memory, wipes the slot there before its
next save (`HnswFile.drop_removed`). Both hold `graph_lock`, so a save never writes back
a vector a forget has just wiped.
"""

from __future__ import annotations

import fcntl
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GRAPH_LOCK = ".echo_vectors.lock"
REMOVALS = "graph_removals"  # rowids whose vectors the job must still wipe from its graph
FORGETS = "forgets"  # meta: a counter every forget bumps (readers drop cached vectors)


@contextmanager
def graph_lock(memory_dir: Path) -> Iterator[None]:
    """Exclusive lock between the writers of the saved graph (flock, across processes)."""
    fd = os.open(Path(memory_dir) / GRAPH_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def zero_vectors(path: Path, blobs: list[bytes]) -> int:
    """Overwrite every copy of each vector blob in a file with zeros, in place, and fsync.

    Returns how many copies were wiped (0 when the file is missing or holds none).
    """
    wanted = [b for b in blobs if b and any(b)]
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    wiped = 0
    try:
        if not wanted or os.fstat(fd).st_size == 0:
            return 0
        with mmap.mmap(fd, 0) as view:
            for blob in wanted:
                start = view.find(blob)
                while start >= 0:
                    view[start : start + len(blob)] = bytes(len(blob))
                    wiped += 1
                    start = view.find(blob, start + len(blob))
            if wiped:
                view.flush()
        if wiped:
            os.fsync(fd)
    finally:
        os.close(fd)
    return wiped


def wipe_keys(index: Any, keys: list[int]) -> None:
    """Remove keys from a usearch graph in memory, bytes included: usearch keeps a removed
    vector's bytes, so each freed slot is first refilled with zeros (an add reuses it)."""
    import numpy as np

    zero = None
    for key in keys:
        if key in index:
            if zero is None:
                zero = np.zeros(index.ndim, dtype=np.float32)
            index.remove(key)
            index.add(key, zero, threads=1)
            index.remove(key)
