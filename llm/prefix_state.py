"""A prefix's KV state out of and into a live `llama_cpp.Llama`, and the key it is cached under.

The state is llama.cpp's sequence state (`llama_state_seq_get_data` for sequence 0: the KV
cells and their positions), not `Llama.save_state()`, which also copies the n_batch × vocab
logits array (about 100 MB for the 135M demo model) that a prefix, always followed by the
request's own tokens, never needs.

The model file is identified by its size, mtime_ns and `llm.fingerprint.model_fingerprint`
(size + first and last 8 MiB), not a hash of the header alone: two fine-tunes of one base
share their header byte for byte, and a copy (`cp -p`, rsync) may keep size and mtime. The
16 MiB are read once per worker start, from pages llama.cpp maps anyway (12 ms of CPU here; see
BENCHMARKS.md).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from llm.fingerprint import model_fingerprint

KEY_FORMAT = 1
SEQ = 0


def read_sequence(llama: Any) -> bytes | None:
    """The KV state of sequence 0 as bytes (None when llama.cpp cannot copy it)."""
    import llama_cpp

    ctx = llama._ctx.ctx
    size = int(llama_cpp.llama_state_seq_get_size(ctx, SEQ))
    if size <= 0:
        return None
    buffer = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_seq_get_data(ctx, buffer, size, SEQ))
    if written <= 0 or written > size:
        return None
    return ctypes.string_at(buffer, written)


def write_sequence(llama: Any, tokens: Sequence[int], payload: bytes) -> bool:
    """Load a saved sequence state as the live prefix `tokens`; False leaves the context empty."""
    import llama_cpp

    llama.reset()
    llama._ctx.kv_cache_seq_rm(-1, 0, -1)
    buffer = (ctypes.c_uint8 * len(payload)).from_buffer_copy(payload)
    read = int(llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(payload), SEQ))
    if read != len(payload):
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        return False
    n = len(tokens)
    llama.input_ids[:n] = tokens
    llama.n_tokens = n
    llama._requires_eval = True  # the next tokens are evaluated before anything is sampled
    return True


def truncate_sequence(llama: Any, n: int) -> None:
    """Drop every KV cell from position `n` on: the live state holds its first `n` tokens only."""
    n = max(0, min(n, llama.n_tokens))
    if n == llama.n_tokens:
        return
    llama._ctx.kv_cache_seq_rm(-1, n, -1)
    llama.n_tokens = n
    llama._requires_eval = True  # the logits were the dropped token's: never sample from them


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
