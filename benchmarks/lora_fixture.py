"""A real GGUF LoRA adapter for the demo model, written with gguf's GGUFWriter (tests, benchmarks).

Shapes follow llama.cpp (src/llama-adapter.cpp): for a base tensor whose ggml shape is
ne = [n_in, n_out], `<name>.lora_a` has ne = [n_in, r] (numpy (r, n_in)) and `.lora_b`
ne = [r, n_out] (numpy (n_out, r)); the layer then adds scale * alpha / r * B @ (A @ x).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from gguf import GGUFWriter

from llm.fingerprint import model_fingerprint
from llm.gguf_reader import HeaderReader

TARGETS = ("attn_q", "attn_v")
ALL_TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def base_shapes(base: Path, names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(n_in, n_out) of each named base tensor, from the base GGUF's header."""
    reader = HeaderReader(base, "r")
    return {t.name: (t.shape[0], t.shape[1]) for t in reader.tensor_infos if t.name in names}


def write_lora(
    path: Path,
    base: Path,
    *,
    layers: Sequence[int] = (0, 1, 2),
    rank: int = 4,
    alpha: float = 8.0,
    b_std: float = 0.05,
    seed: int = 0,
    fingerprint: str | None = "auto",
    architecture: str = "llama",
    general_type: str = "adapter",
    adapter_type: str = "lora",
    targets: Sequence[str] = TARGETS,
) -> Path:
    """Write a rank-`rank` adapter for `targets` of `layers`; fingerprint "auto" = the base's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f"blk.{i}.{t}.weight" for i in layers for t in targets]
    shapes = base_shapes(base, names)
    rng = np.random.default_rng(seed)
    writer = GGUFWriter(str(path), architecture)
    writer.add_type(general_type)
    writer.add_string("adapter.type", adapter_type)
    writer.add_float32("adapter.lora.alpha", alpha)
    if fingerprint is not None:
        value = model_fingerprint(base) if fingerprint == "auto" else fingerprint
        writer.add_string("echo.base.fingerprint", value)
        writer.add_string("echo.base.file", base.name)
    for name in names:
        n_in, n_out = shapes[name]
        a = rng.normal(0.0, 1.0 / np.sqrt(n_in), (rank, n_in)).astype(np.float32)
        b = rng.normal(0.0, b_std, (n_out, rank)).astype(np.float32)
        writer.add_tensor(f"{name}.lora_a", a)
        writer.add_tensor(f"{name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
