"""Held-out loss and bits per byte: in PyTorch during training, through llama.cpp on a GGUF.

Bits per byte = summed next-token loss (nats) / ln 2 / UTF-8 bytes of the predicted text,
so tokenizers of any vocabulary (and a compressor) compare on the same footing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from origin_model.data import IGNORE
from origin_model.model import Transformer

EVAL_BATCH = 8


@torch.no_grad()
def evaluate(model: Transformer, windows: tuple[np.ndarray, np.ndarray], lengths: np.ndarray,
             device: torch.device, bf16: bool = False) -> tuple[float, float]:
    """Mean loss (nats per token) and bits per byte over fixed validation windows (targets
    set to data.IGNORE are left out of both)."""
    model.eval()
    xs, ys = windows
    nats, tokens, nbytes = 0.0, 0, 0
    for start in range(0, len(xs), EVAL_BATCH):
        x = torch.from_numpy(xs[start : start + EVAL_BATCH]).to(device)
        y = torch.from_numpy(ys[start : start + EVAL_BATCH]).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                               reduction="sum", ignore_index=IGNORE)
        counted = ys[start : start + EVAL_BATCH]
        counted = counted[counted != IGNORE]
        nats += float(loss)
        tokens += counted.size
        nbytes += int(lengths[counted].sum())
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


def gguf_reply_bits_per_byte(gguf: Path, exchanges: Iterable[tuple[str, str]],
                             n_threads: int | None = None) -> dict[str, Any]:
    """Bits per byte of each reply given its user turn, in the served chat format.

    What a circuit does with the GGUF (llm.llama_backend): the GGUF's own chat template
    renders the user turn with the generation prompt, llama.cpp tokenizes it (specials on),
    then the reply's own tokens and the end-of-turn token that stops it are scored one
    exchange at a time, in a fresh context. Bytes are the reply's UTF-8 bytes. An exchange
    longer than the model's context is left out ('left_out': their places in `exchanges`).
    """
    from llama_cpp import Llama

    from llm.llama_backend import chat_formatter

    llama = Llama(model_path=str(gguf), n_ctx=0, logits_all=True, n_threads=n_threads,
                  n_batch=512, verbose=False)
    nats, nbytes, scored, tokens = 0.0, 0, 0, 0
    left_out: list[int] = []
    try:
        formatter = chat_formatter(llama)
        ctx, end = llama.n_ctx(), llama.token_eos()
        for place, (user, reply) in enumerate(exchanges):
            rendered = formatter(messages=[{"role": "user", "content": user}])
            prompt = llama.tokenize(rendered.prompt.encode("utf-8"),
                                    add_bos=not rendered.added_special, special=True)
            answer = [*llama.tokenize(reply.encode("utf-8"), add_bos=False, special=False), end]
            ids = [*prompt, *answer]
            if len(ids) > ctx:
                left_out.append(place)
                continue
            logits = llama_logits(llama, ids)[len(prompt) - 1 : -1]
            logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
            nats -= float(logp[np.arange(len(answer)), answer].sum())
            nbytes += len(reply.encode("utf-8"))
            scored += 1
            tokens += len(answer)
    finally:
        llama.close()
    return {"bits_per_byte": nats / math.log(2) / max(1, nbytes), "exchanges": float(scored),
            "bytes": float(nbytes), "tokens": float(tokens), "left_out": left_out}
