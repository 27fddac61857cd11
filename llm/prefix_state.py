"""A prefix's KV state out of and into a live `llama_cpp.Llama` (the key it is cached under
is built in llm/prefix_cache.py).

The state is llama.cpp's sequence state (`llama_state_seq_get_data` for sequence 0: the KV
cells and their positions), not `Llama.save_state()`, which also copies the n_batch × vocab
logits array (about 100 MB for the 135M demo model) that a prefix, always followed by the
request's own tokens, never needs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from llm.llama_private import context_handle, drop_cells, logits_stale

SEQ = 0


def read_sequence(llama: Any) -> bytes | None:
    """The KV state of sequence 0 as bytes (None when llama.cpp cannot copy it)."""
    import llama_cpp

    ctx = context_handle(llama)
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
    drop_cells(llama, 0)
    buffer = (ctypes.c_uint8 * len(payload)).from_buffer_copy(payload)
    read = int(llama_cpp.llama_state_seq_set_data(context_handle(llama), buffer, len(payload), SEQ))
    if read != len(payload):
        drop_cells(llama, 0)
        return False
    n = len(tokens)
    llama.input_ids[:n] = tokens
    llama.n_tokens = n
    logits_stale(llama)  # the next tokens are evaluated before anything is sampled
    return True


def truncate_sequence(llama: Any, n: int) -> None:
    """Drop every KV cell from position `n` on: the live state holds its first `n` tokens only."""
    n = max(0, min(n, llama.n_tokens))
    if n == llama.n_tokens:
        return
    drop_cells(llama, n)
    llama.n_tokens = n
    logits_stale(llama)  # the logits were the dropped token's: never sample from them
