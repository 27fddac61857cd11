"""The prefix cache's file format and folder: checksums, foreign keys, atomic writes, eviction."""

from __future__ import annotations

import os
import time
from pathlib import Path

from llm.prefix_cache import PrefixCache, cache_stats, decode, encode, prefix_key

KEY = "a" * 64
OTHER = "b" * 64


def test_a_saved_state_loads_back_byte_for_byte(tmp_path: Path) -> None:
    cache = PrefixCache(tmp_path / "prefix", 1 << 20)
    assert cache.load(KEY, 3) is None  # missing: nothing, no error
    assert cache.save(KEY, 3, b"kv-state")
    assert cache.load(KEY, 3) == b"kv-state"
    assert [p.name for p in (tmp_path / "prefix").iterdir()] == [cache.path(KEY).name]


def test_a_truncated_corrupt_or_foreign_file_is_ignored(tmp_path: Path) -> None:
    cache = PrefixCache(tmp_path, 1 << 20)
    blob = encode(KEY, 3, b"kv-state" * 100)
    path = cache.path(KEY)
    path.write_bytes(blob[: len(blob) // 2])
    assert cache.load(KEY, 3) is None
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert cache.load(KEY, 3) is None
    path.write_bytes(encode(OTHER, 3, b"kv-state"))  # another prefix's file under this name
    assert cache.load(KEY, 3) is None
    path.write_bytes(encode(KEY, 4, b"kv-state"))  # another token count
    assert cache.load(KEY, 3) is None
    path.write_bytes(b"")
    assert cache.load(KEY, 3) is None
    assert decode(b"not a state file at all" * 3, KEY, 3) is None


def test_the_folder_stays_under_its_bound_oldest_first(tmp_path: Path) -> None:
    keys = [c * 64 for c in "cdef"]
    for age, key in enumerate(keys):
        assert PrefixCache(tmp_path, 1 << 20).save(key, 1, bytes(1000))
        path = PrefixCache(tmp_path, 0).path(key)
        os.utime(path, (time.time() - 100 + age, time.time() - 100 + age))
    cache = PrefixCache(tmp_path, 2500)
    assert cache.load(keys[0], 1) is not None  # used now: the newest
    assert cache.save("9" * 64, 1, bytes(1000))
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {cache.path(k).name for k in (keys[0], "9" * 64)}
    stats = cache_stats(tmp_path)
    assert stats["files"] == 2 and stats["bytes"] <= 2500


def test_an_unwritable_folder_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = PrefixCache(blocker / "prefix", 1 << 20)
    assert cache.save(KEY, 1, b"x") is False
    assert cache.load(KEY, 1) is None


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    cache = PrefixCache(tmp_path, 1 << 20)
    for _ in range(3):
        cache.save(KEY, 2, b"state")
    assert [p.suffix for p in tmp_path.iterdir()] == [".kvstate"]


def test_the_key_changes_with_every_input() -> None:
    base = {"model": {"size": 1, "mtime_ns": 2, "sha256": "x"}, "n_ctx": 2048, "n_batch": 512,
            "n_gpu_layers": -1, "build": {"version": "0.3.36"}, "lora": None}
    key = prefix_key(base, [1, 2, 3])
    assert key == prefix_key(dict(base), [1, 2, 3])
    assert key != prefix_key(base, [1, 2, 4])
    assert key != prefix_key(base, [1, 2])
    for field, value in (("n_ctx", 4096), ("n_batch", 256), ("n_gpu_layers", 0),
                         ("model", {"size": 1, "mtime_ns": 3, "sha256": "x"}),
                         ("build", {"version": "0.3.37"}),
                         ("lora", {"size": 9, "mtime_ns": 9, "sha256": "y", "scale": 0.5})):
        assert prefix_key({**base, field: value}, [1, 2, 3]) != key, field
