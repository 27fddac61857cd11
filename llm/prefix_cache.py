"""Evaluated prompt prefixes on disk: a restarted worker restores its KV state, not recomputes it.

One file per prefix, named by its key: a digest of everything that changes the state (the
model file, the exact prefix tokens, the context's shape, the llama.cpp build, the adapter;
`prefix_key` below builds it). The file is

    MAGIC | header length (u32 LE) | header JSON | payload | sha256 of everything before (32 B)

The header repeats the full key and the token count, so a file renamed, truncated, corrupt or
made for another model is never used: `load` returns None and the caller recomputes and
rewrites it. Writes are atomic (a temporary file, fsync, rename); the folder is bounded by
size, the least recently used files evicted first (a restore touches its file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from llm.fingerprint import model_fingerprint

log = logging.getLogger(__name__)

KEY_FORMAT = 1
MAGIC = b"ECHOPFX1"
SUFFIX = ".kvstate"
DIGEST = 32
_LEN = struct.Struct("<I")


@dataclass(frozen=True)
class PrefixCache:
    """A folder of prefix states, at most `max_bytes` in all."""

    root: Path
    max_bytes: int

    def path(self, key: str) -> Path:
        """The file that holds the state for `key`."""
        return self.root / f"{key[:40]}{SUFFIX}"

    def load(self, key: str, n_tokens: int) -> bytes | None:
        """The payload saved under `key`, or None when absent, damaged or not this key's."""
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        payload = decode(blob, key, n_tokens)
        if payload is None:
            log.warning("prefix cache: ignoring %s (damaged or not this prefix's)", path.name)
            return None
        try:
            os.utime(path)  # recently used: evicted last
        except OSError:
            pass
        return payload

    def save(self, key: str, n_tokens: int, payload: bytes) -> bool:
        """Write the payload atomically, then trim the folder; False (logged) on failure."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_atomic(self.path(key), encode(key, n_tokens, payload))
        except OSError as exc:
            log.warning("prefix cache: cannot write %s: %s", self.root, exc)
            return False
        self.evict(keep=self.path(key))
        return True

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Remove the least recently used files until the folder fits; the removed paths."""
        files = _entries(self.root)
        total = sum(size for _, size, _ in files)
        removed: list[Path] = []
        for path, size, _ in sorted(files, key=lambda entry: entry[2]):
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            removed.append(path)
        return removed


def encode(key: str, n_tokens: int, payload: bytes) -> bytes:
    """The file's bytes: magic, header, payload, checksum."""
    header = json.dumps({"key": key, "n_tokens": n_tokens, "created": time.time()}).encode()
    body = MAGIC + _LEN.pack(len(header)) + header + payload
    return body + hashlib.sha256(body).digest()


def decode(blob: bytes, key: str, n_tokens: int) -> bytes | None:
    """The payload when the checksum holds and the header names `key` and `n_tokens`."""
    head = len(MAGIC) + _LEN.size
    if len(blob) < head + DIGEST or not blob.startswith(MAGIC):
        return None
    body, digest = blob[:-DIGEST], blob[-DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        return None
    (size,) = _LEN.unpack_from(body, len(MAGIC))
    try:
        header = json.loads(body[head : head + size])
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("key") != key:
        return None
    if header.get("n_tokens") != n_tokens:
        return None
    payload = body[head + size :]
    return payload or None


def _write_atomic(path: Path, data: bytes) -> None:
    handle, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _entries(root: Path) -> list[tuple[Path, int, float]]:
    """(path, size, mtime) of each state file."""
    found = []
    try:
        candidates = list(root.glob(f"*{SUFFIX}"))
    except OSError:
        return []
    for path in candidates:
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((path, st.st_size, st.st_mtime))
    return found


def cache_stats(root: Path) -> dict[str, Any]:
    """Files, bytes, and the oldest and newest use, for `echo-brain scan`."""
    files = _entries(root)
    times = [mtime for _, _, mtime in files]
    return {
        "path": str(root),
        "files": len(files),
        "bytes": sum(size for _, size, _ in files),
        "oldest": min(times) if times else None,
        "newest": max(times) if times else None,
    }


# Keys: everything that changes an evaluated prefix's state. The model file is identified by
# its size, mtime_ns and `llm.fingerprint.model_fingerprint` (size + first and last 8 MiB),
# not a hash of the header alone: two fine-tunes of one base share their header byte for
# byte, and a copy (`cp -p`, rsync) may keep size and mtime. The 16 MiB are read once per
# worker start, from pages llama.cpp maps anyway (12 ms of CPU here; see BENCHMARKS.md).


def context_identity(llama: Any, model_path: str, n_gpu_layers: int,
                     lora_path: str | None, lora_scale: float) -> dict[str, Any]:
    """Everything but the tokens that makes one prefix state differ from another."""
    params = llama.context_params
    return {
        "format": KEY_FORMAT,
        "model": file_identity(model_path),
        "n_ctx": llama.n_ctx(),
        "n_batch": llama.n_batch,
        "n_ubatch": int(params.n_ubatch),
        "type_k": int(params.type_k),
        "type_v": int(params.type_v),
        "flash_attn": int(getattr(params, "flash_attn_type", -1)),
        "offload_kqv": bool(params.offload_kqv),
        "n_gpu_layers": n_gpu_layers,
        "build": build_identity(),
        "lora": None if not lora_path else {**file_identity(lora_path), "scale": lora_scale},
    }


def prefix_key(identity: dict[str, Any], tokens: Sequence[int]) -> str:
    """sha256 (hex) of the context's identity and the exact prefix tokens."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    digest.update(b"\0tokens\0")
    digest.update(b"".join(int(t).to_bytes(4, "little", signed=True) for t in tokens))
    return digest.hexdigest()


def file_identity(path: str) -> dict[str, Any]:
    """Size, mtime_ns and the content fingerprint (size + first and last 8 MiB) of a file."""
    st = Path(path).stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": _fingerprint(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)}


@cache
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    return model_fingerprint(path)


@cache
def build_identity() -> dict[str, Any]:
    """The llama-cpp-python version, the build key setup wrote, and the native library's stat."""
    import llama_cpp

    key_file = Path(sys.prefix) / ".llama-build-key"
    try:
        build_key = key_file.read_text().strip()
    except OSError:
        build_key = None
    libraries = []
    for lib in sorted((Path(llama_cpp.__file__).parent / "lib").glob("lib*.so*")):
        try:
            st = lib.stat()
        except OSError:
            continue
        libraries.append([lib.name, st.st_size, st.st_mtime_ns])
    return {"version": llama_cpp.__version__, "build_key": build_key, "libraries": libraries,
            "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload())}
