"""GGUF weights → float32 torch tensors.

The common llama.cpp block formats (F32, F16, BF16, Q4_0, Q4_1, Q8_0) are unpacked with torch
(multi-threaded, and on the GPU when the run is there); every other format goes through
gguf-py's numpy reference (`gguf.quants`), block for block what llama.cpp computes.
"""

from __future__ import annotations

import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from gguf import quants

TORCH_TYPES = frozenset({Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q8_0})
NUMPY_TYPES = frozenset({Q.Q5_0, Q.Q5_1, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K})


def supported(kind: Q) -> bool:
    """Whether this trainer can dequantize a tensor stored as `kind`."""
    return kind in TORCH_TYPES or kind in NUMPY_TYPES


def dequantize(raw: np.ndarray, kind: Q, rows: int, cols: int,
               device: torch.device | None = None) -> torch.Tensor:
    """The (rows, cols) float32 matrix stored in raw (the GGUF's bytes or values, any shape)."""
    if kind not in TORCH_TYPES:
        values = quants.dequantize(np.asarray(raw), kind)
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).reshape(
            rows, cols).to(device or "cpu")
    data = torch.from_numpy(np.array(raw, copy=True)).to(device or "cpu")
    if kind == Q.F32:
        return data.view(torch.float32).reshape(rows, cols)
    if kind == Q.F16:
        return data.view(torch.float16).reshape(rows, cols).float()
    if kind == Q.BF16:
        return data.view(torch.bfloat16).reshape(rows, cols).float()
    blocks = data.view(torch.uint8).reshape(-1, _BLOCK_BYTES[kind])
    return _UNPACK[kind](blocks).reshape(rows, cols)


def _scale(blocks: torch.Tensor, at: int) -> torch.Tensor:
    """The fp16 scale at byte `at` of every block, as a float column."""
    return blocks[:, at : at + 2].contiguous().view(torch.float16).float()


def _nibbles(qs: torch.Tensor) -> torch.Tensor:
    """16 packed bytes → 32 values: the low nibbles first, then the high ones (ggml's order)."""
    return torch.cat((qs & 0x0F, qs >> 4), dim=1).float()


def _q4_0(blocks: torch.Tensor) -> torch.Tensor:
    return (_nibbles(blocks[:, 2:]) - 8.0) * _scale(blocks, 0)


def _q4_1(blocks: torch.Tensor) -> torch.Tensor:
    return _nibbles(blocks[:, 4:]) * _scale(blocks, 0) + _scale(blocks, 2)


def _q8_0(blocks: torch.Tensor) -> torch.Tensor:
    return blocks[:, 2:].contiguous().view(torch.int8).float() * _scale(blocks, 0)


_BLOCK_BYTES = {Q.Q4_0: 18, Q.Q4_1: 20, Q.Q8_0: 34}
_UNPACK = {Q.Q4_0: _q4_0, Q.Q4_1: _q4_1, Q.Q8_0: _q8_0}
