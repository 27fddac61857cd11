"""A cheap, stable fingerprint of a model file: what an adapter or a cached state was made for.

Hashing a whole 26 GB GGUF on every load would take minutes; the size, the header and the
first and last blocks of tensor data tell two models apart (two fine-tunes of one
architecture share a header, not their weights) and read at most 16 MiB.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 8 << 20  # bytes read from each end of the file


def model_fingerprint(path: str | Path) -> str:
    """sha256 (hex) of the file's size, its first 8 MiB and its last 8 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        digest.update(size.to_bytes(8, "little"))
        handle.seek(0)
        digest.update(handle.read(BLOCK))
        if size > BLOCK:
            handle.seek(max(BLOCK, size - BLOCK))
            digest.update(handle.read(BLOCK))
    return digest.hexdigest()
