"""Wiping a forgotten line's vector from a saved usearch graph file, in place.

The fast path reads where each vector lies from the file's own layout (`slot_map`); these
tests pin that reading against real files saved by the installed usearch, so a usearch
upgrade that moves things is caught here, not by a slow forget at 300k lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from usearch.index import Index

from core.memory.recall.vector_scrub import FREE_KEY, slot_map, zero_vectors

DIM = 16


def _graph(tmp_path: Path) -> tuple[Path, Index, np.ndarray]:
    """A saved f16 cosine graph (the engine's kind) with removals and reused slots."""
    rng = np.random.default_rng(7)
    index = Index(ndim=DIM, metric="cos", dtype="f16")
    keys = rng.permutation(np.arange(10_000, 12_000, dtype=np.uint64))[:600]
    index.add(keys, rng.standard_normal((600, DIM)).astype(np.float32), threads=1)
    index.remove(keys[:40])  # 40 freed slots; 25 of them reused by the next adds
    index.add(np.arange(50_000, 50_025, dtype=np.uint64),
              rng.standard_normal((25, DIM)).astype(np.float32), threads=1)
    path = tmp_path / "graph.usearch"
    index.save(str(path))
    return path, index, keys


def _row(index: Index, key: int) -> bytes:
    return bytes(np.asarray(index.get(key), dtype=np.float16).tobytes())


def test_the_layout_read_from_a_saved_file_puts_every_key_at_its_vector(tmp_path: Path) -> None:
    path, index, _ = _graph(tmp_path)
    data = path.read_bytes()
    with open(path, "rb") as handle:
        layout = slot_map(handle.fileno())
    assert layout is not None, "the installed usearch saves a layout slot_map cannot read"
    live = {int(k) for k in index.keys}
    assert {int(k) for k in layout.keys if int(k) != FREE_KEY} == live
    assert int((layout.keys == np.uint64(FREE_KEY)).sum()) == 15
    for slot, key in enumerate(layout.keys.tolist()):
        if key != FREE_KEY:
            at = layout.start + slot * layout.row
            assert data[at : at + layout.row] == _row(index, key)


def test_a_key_is_wiped_at_its_slot_and_nothing_else_moves(tmp_path: Path) -> None:
    path, index, keys = _graph(tmp_path)
    before = path.read_bytes()
    gone = int(keys[100])
    row = _row(index, gone)
    assert zero_vectors(path, [gone], [row]) == 1
    after = path.read_bytes()
    assert row not in after
    changed = [i for i in range(len(before)) if before[i] != after[i]]
    assert changed and max(changed) - min(changed) < len(row)
    restored = Index.restore(str(path))
    assert not np.any(np.asarray(restored.get(gone), dtype=np.float32))
    kept = int(keys[101])
    assert _row(restored, kept) == _row(index, kept)


def test_a_freed_slot_still_holding_the_vector_is_wiped_too(tmp_path: Path) -> None:
    path, index, keys = _graph(tmp_path)
    data = path.read_bytes()
    with open(path, "rb") as handle:
        layout = slot_map(handle.fileno())
    assert layout is not None
    free = np.flatnonzero(layout.keys == np.uint64(FREE_KEY)).tolist()
    at = layout.start + free[0] * layout.row
    stale = data[at : at + layout.row]  # a removed line's vector, key no longer in the graph
    assert any(stale)
    assert zero_vectors(path, [int(keys[0])], [stale]) == 1
    assert stale not in path.read_bytes()


@pytest.mark.parametrize("damage", ["magic", "length"])
def test_a_layout_it_cannot_read_falls_back_to_scanning_every_byte(
    tmp_path: Path, damage: str
) -> None:
    path, index, keys = _graph(tmp_path)
    gone = int(keys[200])
    row = _row(index, gone)
    data = bytearray(path.read_bytes())
    if damage == "magic":
        head = data.index(b"usearch")
        data[head : head + 7] = b"usearcX"
    else:
        data += b"\0" * 8  # the nodes no longer end where the file ends
    path.write_bytes(bytes(data))
    with open(path, "rb") as handle:
        assert slot_map(handle.fileno()) is None
    assert zero_vectors(path, [gone], [row]) == 1
    assert row not in path.read_bytes()


def test_a_missing_or_empty_file_wipes_nothing(tmp_path: Path) -> None:
    assert zero_vectors(tmp_path / "none.usearch", [1], [b"\1" * 32]) == 0
    (tmp_path / "empty.usearch").write_bytes(b"")
    assert zero_vectors(tmp_path / "empty.usearch", [1], [b"\1" * 32]) == 0
