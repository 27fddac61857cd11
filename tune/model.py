"""The llama architecture over a GGUF's own tensors, with LoRA on seven projections.

The weights are used exactly as llama.cpp stores them: Q and K rows in GGUF's permuted order,
so RoPE is llama.cpp's "normal" mode (neighbouring dimensions form the rotated pairs), not
the Hugging Face rotate-half. Base weights are frozen; only the LoRA matrices learn.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tune.weights import GGUFWeights

TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


class LoRA(nn.Module):
    """ΔW = B·A · alpha/rank, A (rank, in) and B (out, rank) as llama.cpp's adapter stores them."""

    def __init__(self, n_in: int, n_out: int, rank: int, alpha: float) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.empty(rank, n_in))
        self.b = nn.Parameter(torch.zeros(n_out, rank))
        nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))  # as peft: B = 0, so ΔW starts at 0
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x·Aᵀ·scale·Bᵀ (the scale applied where the tensor is narrowest)."""
        return F.linear(F.linear(x, self.a) * self.scale, self.b)


class StreamedLinear(torch.autograd.Function):
    """x·Wᵀ with W unpacked from the mapping in forward, and again in backward (never kept)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor,
                weights: GGUFWeights, name: str) -> torch.Tensor:
        ctx.weights, ctx.name = weights, name  # type: ignore[attr-defined]
        return F.linear(x, weights.matrix(name))

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx,  # type: ignore[override]
                 grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        weight = ctx.weights.matrix(ctx.name)  # type: ignore[attr-defined]
        return grad @ weight, None, None


def frozen_linear(x: torch.Tensor, weights: GGUFWeights, name: str) -> torch.Tensor:
    """The base projection: a kept matrix, or one streamed from the mapping."""
    if weights.resident:
        return F.linear(x, weights.matrix(name))
    out: torch.Tensor = StreamedLinear.apply(x, weights, name)
    return out


def rope_angles(weights: GGUFWeights, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (length, rope_dims / 2): θᵢ = pos · base^(−2i/d), as llama.cpp."""
    shape = weights.shape
    exponent = torch.arange(0, shape.rope_dims, 2, dtype=torch.float64) / shape.rope_dims
    freqs = 1.0 / shape.rope_base**exponent
    if weights.has("rope_freqs.weight"):  # Llama 3.1's long-context factors
        freqs = freqs / weights.vector("rope_freqs.weight").double().cpu()
    angles = torch.outer(torch.arange(length, dtype=torch.float64), freqs)
    return angles.cos().float().to(weights.device), angles.sin().float().to(weights.device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, T, H, D) by position; pairs are dimensions (2i, 2i+1) ("normal" RoPE)."""
    dims = cos.shape[-1] * 2
    rotated, kept = x[..., :dims], x[..., dims:]
    pairs = rotated.unflatten(-1, (-1, 2))
    even, odd = pairs[..., 0], pairs[..., 1]
    c, s = cos[:, None, :], sin[:, None, :]
    out = torch.stack((even * c - odd * s, even * s + odd * c), dim=-1).flatten(-2)
    return torch.cat((out, kept), dim=-1) if kept.shape[-1] else out


class LlamaLoRA(nn.Module):
    """Token ids → logits through the GGUF's frozen weights plus the trainable adapters."""

    def __init__(self, weights: GGUFWeights, rank: int, alpha: float) -> None:
        super().__init__()
        self.weights = weights
        shape = weights.shape
        kv = shape.n_kv_heads * shape.head_dim
        sizes = {"attn_q": (shape.dim, shape.dim), "attn_k": (shape.dim, kv),
                 "attn_v": (shape.dim, kv), "attn_output": (shape.dim, shape.dim),
                 "ffn_gate": (shape.dim, shape.hidden), "ffn_up": (shape.dim, shape.hidden),
                 "ffn_down": (shape.hidden, shape.dim)}
        self.adapters = nn.ModuleDict({
            key(layer, target): LoRA(*sizes[target], rank, alpha)
            for layer in range(shape.n_layers) for target in TARGETS})
        self.rank, self.alpha = rank, alpha

    def project(self, x: torch.Tensor, layer: int, target: str) -> torch.Tensor:
        """Base projection plus its adapter (one fused multiply-add when the weight is kept)."""
        name = f"blk.{layer}.{target}.weight"
        delta = self.adapters[key(layer, target)](x)
        if not self.weights.resident:
            return frozen_linear(x, self.weights, name) + delta
        flat = torch.addmm(delta.reshape(-1, delta.shape[-1]), x.reshape(-1, x.shape[-1]),
                           self.weights.matrix(name).t())
        return flat.view(*x.shape[:-1], -1)

    def hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T, dim) final normed hidden states."""
        shape = self.weights.shape
        x = self.weights.rows("token_embd.weight", ids)
        cos, sin = rope_angles(self.weights, ids.shape[1])
        for layer in range(shape.n_layers):
            x = x + self._attention(self._norm(x, f"blk.{layer}.attn_norm"), layer, cos, sin)
            x = x + self._feed_forward(self._norm(x, f"blk.{layer}.ffn_norm"), layer)
        return self._norm(x, "output_norm")

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weights.vector(f"{name}.weight"),
                          self.weights.shape.eps)

    def _attention(self, x: torch.Tensor, layer: int, cos: torch.Tensor,
                   sin: torch.Tensor) -> torch.Tensor:
        shape, (b, t, _) = self.weights.shape, x.shape
        q = self.project(x, layer, "attn_q").view(b, t, shape.n_heads, shape.head_dim)
        k = self.project(x, layer, "attn_k").view(b, t, shape.n_kv_heads, shape.head_dim)
        v = self.project(x, layer, "attn_v").view(b, t, shape.n_kv_heads, shape.head_dim)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2), is_causal=True,
                                             enable_gqa=shape.n_kv_heads != shape.n_heads)
        return self.project(out.transpose(1, 2).reshape(b, t, -1), layer, "attn_output")

    def _feed_forward(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        gate = self.project(x, layer, "ffn_gate")
        up = self.project(x, layer, "ffn_up")
        return self.project(F.silu(gate) * up, layer, "ffn_down")

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden states → logits (the frozen output head)."""
        return frozen_linear(h, self.weights, self.weights.output_name())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T, vocab) logits."""
        return self.head(self.hidden(ids))

    def pairs(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{base tensor name: (A, B)} as float32 arrays, what the adapter GGUF stores."""
        return {tensor_name(k): (self.lora(k).a.detach().float().cpu().numpy(),
                                 self.lora(k).b.detach().float().cpu().numpy())
                for k in self.adapters}

    def lora(self, module_key: str) -> LoRA:
        """One adapter by its key."""
        return cast(LoRA, self.adapters[module_key])

    def loss_sum(self, ids: torch.Tensor, targets: torch.Tensor,
                 mask: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Summed next-token loss (nats) over the masked targets, and their count.

        Only the masked positions go through the output head: the assistant's tokens, often
        a minority of a window, and the head is the widest matrix of a small model.
        """
        picked = mask.bool()
        count = int(picked.sum())
        if count == 0:
            return self.lora(key(0, "attn_q")).a.sum() * 0.0, 0
        h = self.hidden(ids)[picked]
        logits = self.head(h)
        return F.cross_entropy(logits.float(), targets[picked], reduction="sum"), count


def key(layer: int, target: str) -> str:
    """The ModuleDict key of one adapter (dots are not allowed there)."""
    return f"blk_{layer}_{target}"


def tensor_name(module_key: str) -> str:
    """The base tensor an adapter key belongs to: blk_3_attn_q → blk.3.attn_q.weight."""
    _, layer, target = module_key.split("_", 2)
    return f"blk.{layer}.{target}.weight"
