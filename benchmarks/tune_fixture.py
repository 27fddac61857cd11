"""GGUF fixtures for `echo-brain tune`: copies of a real model and random llama-shaped ones.

- `copy_gguf`: every key and tensor of a GGUF, each tensor optionally converted (the parity
  test's float32 copy of the demo model: the same weights, dequantized as the trainer does).
- `write_llama_gguf`: a llama GGUF of any size with random weights, quantized like real ones
  (Q4_0 matrices, a Q8_0 embedding), carrying the demo model's tokenizer and chat template so
  llama.cpp and the trainer both read it (the 1.2B-parameter memory benchmark).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter, quants

Convert = Callable[[str, np.ndarray, GGMLQuantizationType], tuple[np.ndarray, GGMLQuantizationType]]
SKIPPED_KEYS = ("GGUF.", "general.architecture")


def copy_keys(reader: GGUFReader, writer: GGUFWriter, prefix: str = "",
              overrides: dict[str, object] | None = None) -> None:
    """Every metadata key of reader (those starting with prefix) into writer."""
    for key, field in reader.fields.items():
        if key.startswith(SKIPPED_KEYS) or not key.startswith(prefix):
            continue
        value = (overrides or {}).get(key, field.contents())
        sub = field.types[-1] if field.types[0] == GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, field.types[0], sub_type=sub)


def copy_gguf(src: Path, dst: Path, convert: Convert | None = None,
              architecture: str | None = None) -> Path:
    """A copy of src with each tensor passed through convert(name, float-or-raw, type)."""
    reader = GGUFReader(src)
    arch = architecture or str(reader.get_field("general.architecture").contents())  # type: ignore[union-attr]
    writer = GGUFWriter(dst, arch)
    copy_keys(reader, writer)
    for tensor in reader.tensors:
        data, kind = np.array(tensor.data), tensor.tensor_type
        if convert is not None:
            data, kind = convert(tensor.name, data, kind)
        writer.add_tensor(tensor.name, data, raw_dtype=kind)
    _finish(writer)
    return dst


def to_float32(name: str, data: np.ndarray,
               kind: GGMLQuantizationType) -> tuple[np.ndarray, GGMLQuantizationType]:
    """convert= for copy_gguf: every tensor dequantized to float32 (gguf-py's reference)."""
    if kind == GGMLQuantizationType.F32:
        return data, kind
    return quants.dequantize(data, kind).astype(np.float32), GGMLQuantizationType.F32


def llama_tensors(dim: int, layers: int, heads: int, kv_heads: int, hidden: int,
                  vocab: int) -> Iterator[tuple[str, tuple[int, int] | tuple[int]]]:
    """(name, numpy shape) of every tensor of a tied-embedding llama model."""
    kv = dim // heads * kv_heads
    yield "token_embd.weight", (vocab, dim)
    for i in range(layers):
        yield f"blk.{i}.attn_norm.weight", (dim,)
        yield f"blk.{i}.attn_q.weight", (dim, dim)
        yield f"blk.{i}.attn_k.weight", (kv, dim)
        yield f"blk.{i}.attn_v.weight", (kv, dim)
        yield f"blk.{i}.attn_output.weight", (dim, dim)
        yield f"blk.{i}.ffn_norm.weight", (dim,)
        yield f"blk.{i}.ffn_gate.weight", (hidden, dim)
        yield f"blk.{i}.ffn_up.weight", (hidden, dim)
        yield f"blk.{i}.ffn_down.weight", (dim, hidden)
    yield "output_norm.weight", (dim,)


def write_llama_gguf(dst: Path, tokenizer_from: Path, dim: int, layers: int, heads: int,
                     kv_heads: int, hidden: int, seed: int = 0,
                     matrix_type: GGMLQuantizationType = GGMLQuantizationType.Q4_0,
                     architecture: str = "llama") -> int:
    """A random llama GGUF (quantized matrices, f32 norms); its parameter count."""
    source = GGUFReader(tokenizer_from)
    vocab = len(source.get_field("tokenizer.ggml.tokens").data)  # type: ignore[union-attr]
    writer = GGUFWriter(dst, architecture)
    writer.add_block_count(layers)
    writer.add_context_length(2048)
    writer.add_embedding_length(dim)
    writer.add_feed_forward_length(hidden)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(dim // heads)
    copy_keys(source, writer, "tokenizer.")
    rng, count = np.random.default_rng(seed), 0
    for name, shape in llama_tensors(dim, layers, heads, kv_heads, hidden, vocab):
        count += int(np.prod(shape))
        if len(shape) == 1:
            writer.add_tensor(name, (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32))
            continue
        values = (rng.standard_normal(shape, dtype=np.float32) * (0.6 / np.sqrt(shape[1])))
        kind = GGMLQuantizationType.Q8_0 if name == "token_embd.weight" else matrix_type
        writer.add_tensor(name, quants.quantize(values, kind), raw_dtype=kind)
    _finish(writer)
    return count


def _finish(writer: GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
