"""The speed reference of bench_tune: a plain PyTorch LoRA loop on a fully dequantized copy.

nn.Linear layers holding the float32 weights, peft-style adapters (base(x) + B(A(x))·scale),
full logits and a masked cross-entropy, torch.optim.AdamW: what one writes first. Timed on
the same batches as `echo-brain tune`'s step, interleaved, median of each.
"""

from __future__ import annotations

from statistics import median
from time import perf_counter
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import DEMO_MODEL
from trainkit.optim import AdamW
from tune.data import MaskedStream
from tune.model import LlamaLoRA, apply_rope, rope_angles
from tune.steps import train_step
from tune.weights import GGUFWeights, open_weights

TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


class PlainLoRALinear(nn.Module):
    """A frozen nn.Linear plus lora_B(lora_A(x)) · scaling."""

    def __init__(self, weight: torch.Tensor, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        self.base.weight = nn.Parameter(weight, requires_grad=False)
        self.lora_a = nn.Linear(weight.shape[1], rank, bias=False)
        self.lora_b = nn.Linear(rank, weight.shape[0], bias=False)
        nn.init.zeros_(self.lora_b.weight)
        self.scaling = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.lora_b(self.lora_a(x)) * self.scaling


class PlainLlama(nn.Module):
    """The same llama, written plainly."""

    def __init__(self, weights: GGUFWeights, rank: int, alpha: float) -> None:
        super().__init__()
        self.weights, shape = weights, weights.shape
        self.layers = nn.ModuleList(nn.ModuleDict({
            t: PlainLoRALinear(weights.matrix(f"blk.{i}.{t}.weight"), rank, alpha)
            for t in TARGETS}) for i in range(shape.n_layers))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        w, shape = self.weights, self.weights.shape
        x = F.embedding(ids, w.matrix("token_embd.weight"))
        cos, sin = rope_angles(w, ids.shape[1])
        b, t = ids.shape
        for i, layer in enumerate(self.layers):
            h = F.rms_norm(x, (shape.dim,), w.vector(f"blk.{i}.attn_norm.weight"), shape.eps)
            q = apply_rope(layer["attn_q"](h).view(b, t, shape.n_heads, -1), cos, sin)
            k = apply_rope(layer["attn_k"](h).view(b, t, shape.n_kv_heads, -1), cos, sin)
            v = layer["attn_v"](h).view(b, t, shape.n_kv_heads, -1)
            o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                               v.transpose(1, 2), is_causal=True,
                                               enable_gqa=True)
            x = x + layer["attn_output"](o.transpose(1, 2).reshape(b, t, -1))
            h = F.rms_norm(x, (shape.dim,), w.vector(f"blk.{i}.ffn_norm.weight"), shape.eps)
            x = x + layer["ffn_down"](F.silu(layer["ffn_gate"](h)) * layer["ffn_up"](h))
        x = F.rms_norm(x, (shape.dim,), w.vector("output_norm.weight"), shape.eps)
        return F.linear(x, w.matrix(w.output_name()))


def speed(data: Any, steps: int, batch: int = 2, context: int = 128) -> dict[str, float]:
    """tokens/s of our step and of the plain loop, same batches, interleaved."""
    torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
    weights = open_weights(DEMO_MODEL, torch.device("cpu"), 4.0)
    weights.load_all()
    torch.manual_seed(0)
    ours = LlamaLoRA(weights, 16, 32.0)
    ours_opt = AdamW([{"params": list(ours.adapters.parameters()), "weight_decay": 0.0}],
                     lr=1e-3)
    plain = PlainLlama(weights, 16, 32.0)
    trainable = [p for p in plain.parameters() if p.requires_grad]
    plain_opt = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.0)
    stream = MaskedStream(data, "train", context)
    rng = np.random.default_rng(0)
    batches = [stream.batch(rng, batch) for _ in range(steps + 1)]

    def plain_step(b: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        ids, targets, mask = (torch.from_numpy(np.ascontiguousarray(p)) for p in b)
        logits = plain(ids)
        labels = torch.where(mask.bool(), targets, torch.full_like(targets, -100))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        plain_opt.step()
        plain_opt.zero_grad()

    times: dict[str, list[float]] = {"ours": [], "plain": []}
    for b in batches:
        for name, step in (("ours", lambda b=b: train_step(ours, ours_opt, b,
                                                           torch.device("cpu"), 1.0)),
                           ("plain", lambda b=b: plain_step(b))):
            began = perf_counter()
            step()
            times[name].append(perf_counter() - began)
    tokens = batch * context
    mine, theirs = tokens / median(times["ours"][1:]), tokens / median(times["plain"][1:])
    return {"ours": mine, "plain": theirs, "ratio": mine / theirs, "batch": batch,
            "context": context, "steps": steps, "threads": torch.get_num_threads()}
