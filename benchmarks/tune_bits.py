"""Bits per byte of the assistant's held-out turns through llama-cpp-python (bench_tune).

Each held-out run of turns is rendered whole (the base's own template, or the nano model's
ChatML) and tokenized whole, as llama.cpp serves it; a token is scored when it starts inside
an assistant turn's content or its end marker, and the bytes are those segments' UTF-8 bytes,
the same text for every model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.settings import Settings
from origin_model.corpus import ArchiveStats, Turn
from tune.chat import ChatTokenizer, Segment
from tune.data import chunk_segments, is_held_out, iter_chunks
from tune.weights import field, read_gguf

MAX_CHUNK_TOKENS = 1500


@dataclass
class Chunk:
    """One held-out run of turns and its segments in the base model's template."""

    turns: list[Turn]
    segments: list[Segment]


def held_out_chunks(memory: Path, settings: Settings, model: Path, tokens: int) -> list[Chunk]:
    """The first held-out runs, up to about `tokens` tokens of the base model."""
    chat = ChatTokenizer(model)
    picked: list[Chunk] = []
    total = 0
    try:
        for turns in iter_chunks(memory, settings, ArchiveStats()):
            if not is_held_out(turns):
                continue
            segments = chunk_segments(chat, turns)
            count = len(chat.tokenize("".join(text for text, _ in segments)))
            if not segments or count > MAX_CHUNK_TOKENS:
                continue
            picked.append(Chunk(turns, segments))
            total += count
            if total >= tokens:
                break
    finally:
        chat.close()
    return picked


def nano_segments(chunk: Chunk) -> list[Segment]:
    """The same turns in the nano model's ChatML (origin_model.tokenizer.turn_text)."""
    out: list[Segment] = []
    for turn in chunk.turns:
        text = turn.text.strip()
        if not text:
            continue
        mine = turn.role == "assistant"
        out += [(f"{'<s>' if turn.first else ''}<|im_start|>{turn.role}\n", False), (text, mine),
                ("<|im_end|>", mine), ("\n", False)]
    return out


def token_logprobs(llama: Any, ids: list[int]) -> np.ndarray:
    """log p(ids[i] | ids[:i]) for every i ≥ 1, in half-overlapping windows of the context."""
    ctx, out = llama.n_ctx(), np.zeros(len(ids))
    done, start = 1, 0
    while done < len(ids):
        window = ids[start : start + ctx]
        llama.reset()
        llama.eval(window)
        logits = np.array(llama.scores[: len(window)], dtype=np.float64)[:-1]
        logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        first = done - start - 1
        targets = np.asarray(window[first + 1 :])
        out[start + first + 1 : start + len(window)] = logp[np.arange(first, len(window) - 1),
                                                            targets]
        done = start + len(window)
        start = max(start + 1, done - ctx // 2)
    return out


def score(model: Path, chunks: list[list[Segment]], lora: Path | None = None) -> dict[str, Any]:
    """Bits per byte of the target segments of every chunk under model (+ lora)."""
    from llama_cpp import Llama

    reader = read_gguf(model)
    arch = field(reader, "general.architecture")
    n_ctx = min(2048, int(field(reader, f"{arch}.context_length", 2048)))
    del reader
    llama = Llama(model_path=str(model), n_ctx=n_ctx, logits_all=True, n_batch=512,
                  verbose=False, lora_path=str(lora) if lora else None)
    sizes: dict[int, int] = {}
    nats, nbytes, scored = 0.0, 0, 0
    try:
        for segments in chunks:
            ids = list(llama.tokenize("".join(t for t, _ in segments).encode(), add_bos=False,
                                      special=True))
            flags = _flags(llama, ids, segments, sizes)
            logp = token_logprobs(llama, ids)
            nats -= float(logp[flags].sum())
            scored += int(flags.sum())
            nbytes += sum(len(t.encode()) for t, target in segments if target)
    finally:
        llama.close()
    return {"bpb": nats / math.log(2) / max(1, nbytes), "bytes": nbytes, "tokens": scored}


def _flags(llama: Any, ids: list[int], segments: list[Segment],
           sizes: dict[int, int]) -> np.ndarray:
    """Whether each token starts inside a target segment (byte offsets)."""
    spans, at = [], 0
    for text, target in segments:
        size = len(text.encode())
        if target:
            spans.append((at, at + size))
        at += size
    flags, offset = np.zeros(len(ids), dtype=bool), 0
    for i, token in enumerate(ids):
        if token not in sizes:
            sizes[token] = len(llama.detokenize([token], special=True))
        flags[i] = i > 0 and any(a <= offset < b for a, b in spans)
        offset += sizes[token]
    return flags
