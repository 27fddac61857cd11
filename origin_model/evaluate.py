"""Held-out loss and bits per byte: in PyTorch during training, through llama.cpp on a GGUF.

Bits per byte = summed next-token loss (nats) / ln 2 / UTF-8 bytes of the predicted text,
so tokenizers of any vocabulary (and a compressor) compare on the same footing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from origin_model.model import Transformer

EVAL_BATCH = 8


@torch.no_grad()
def evaluate(model: Transformer, windows: tuple[np.ndarray, np.ndarray], lengths: np.ndarray,
             device: torch.device, bf16: bool = False) -> tuple[float, float]:
    """Mean loss (nats per token) and bits per byte over fixed validation windows."""
    model.eval()
    xs, ys = windows
    nats, tokens, nbytes = 0.0, 0, 0
    for start in range(0, len(xs), EVAL_BATCH):
        x = torch.from_numpy(xs[start : start + EVAL_BATCH]).to(device)
        y = torch.from_numpy(ys[start : start + EVAL_BATCH]).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                               reduction="sum")
        nats += float(loss)
        tokens += y.numel()
        nbytes += int(lengths[ys[start : start + EVAL_BATCH]].sum())
    return nats / max(1, tokens), nats / math.log(2) / max(1, nbytes)


def llama_logits(llama: Any, ids: list[int]) -> np.ndarray:
    """llama.cpp's logits for every position of ids (a fresh context each call)."""
    llama.reset()
    llama.eval(ids)
    return np.array(llama.scores[: len(ids)], dtype=np.float64)


def gguf_bits_per_byte(gguf: Path, text: str, n_threads: int | None = None) -> dict[str, float]:
    """Bits per byte of text under a GGUF, through llama-cpp-python.

    Sliding windows of the model's context, half overlapping: every token after the first is
    predicted exactly once, with at least half a context before it (but in the first window).
    """
    from llama_cpp import Llama

    llama = Llama(model_path=str(gguf), n_ctx=0, logits_all=True, n_threads=n_threads,
                  n_batch=512, verbose=False)
    try:
        ctx = llama.n_ctx()
        ids = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        nats, predicted, done = 0.0, 0, 1  # ids[:done] are predicted (the first never is)
        start = 0
        while done < len(ids):
            window = ids[start : start + ctx]
            logits = llama_logits(llama, window)[:-1]
            logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
            first = done - start - 1  # the first position whose next token is still unscored
            targets = np.asarray(window[first + 1 :])
            nats -= float(logp[np.arange(first, len(window) - 1), targets].sum())
            predicted += len(targets)
            done = start + len(window)
            start = max(start + 1, done - ctx // 2)
    finally:
        llama.close()
    nbytes = len(text.encode("utf-8"))
    return {"bits_per_byte": nats / math.log(2) / nbytes, "tokens": float(len(ids)),
            "bytes": float(nbytes), "predicted": float(predicted)}
