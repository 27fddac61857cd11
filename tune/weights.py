"""A llama-architecture GGUF, memory-mapped: its shape and its weights as torch tensors.

Under the RAM budget the dequantized weights are kept (`resident`); above it every matrix stays
quantized in the mapping and is unpacked each time a layer runs, forward and backward.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gguf import GGUFReader

from trainkit import errors
from tune.dequant import dequantize, supported

GIB = 1 << 30
# activations, LoRA, optimizer, the tokenizer: what a resident run needs besides the weights
RESIDENT_HEADROOM = 1.25 * GIB
LAYER_TENSORS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
                 "ffn_gate", "ffn_up", "ffn_down")


@dataclass(frozen=True)
class LlamaShape:
    """The hyper-parameters llama.cpp reads from a llama GGUF."""

    n_layers: int
    dim: int
    n_heads: int
    n_kv_heads: int
    hidden: int
    vocab: int
    context: int
    rope_base: float
    rope_dims: int
    eps: float
    tied: bool

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.dim // self.n_heads

    def as_dict(self) -> dict[str, Any]:
        """JSON form (tune.json)."""
        return asdict(self)


class GGUFWeights:
    """The tensors of one GGUF file, dequantized on demand (and kept, when resident)."""

    def __init__(self, path: Path, reader: GGUFReader, shape: LlamaShape,
                 device: torch.device, resident: bool) -> None:
        self.path, self.reader, self.shape = path, reader, shape
        self.device, self.resident = device, resident
        self.tensors = {t.name: t for t in reader.tensors}
        self.names = frozenset(self.tensors)
        self.dequant_s = 0.0
        self._cache: dict[str, torch.Tensor] = {}

    def has(self, name: str) -> bool:
        """Whether the file holds a tensor of this name."""
        return name in self.names

    def matrix(self, name: str) -> torch.Tensor:
        """The (out, in) float32 weight: cached when resident, freshly unpacked otherwise."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        tensor = self.tensors[name]
        cols = int(tensor.shape[0])
        began = time.perf_counter()
        value = dequantize(tensor.data, tensor.tensor_type, int(tensor.n_elements) // cols, cols,
                           self.device)
        self.dequant_s += time.perf_counter() - began
        if self.resident:
            self._cache[name] = value
        return value

    def vector(self, name: str) -> torch.Tensor:
        """A 1-D tensor (norms, RoPE factors), always kept."""
        if name not in self._cache:
            tensor = self.tensors[name]
            self._cache[name] = dequantize(tensor.data, tensor.tensor_type, 1,
                                           int(tensor.n_elements), self.device).reshape(-1)
        return self._cache[name]

    def rows(self, name: str, ids: torch.Tensor) -> torch.Tensor:
        """Rows of a (vocab, dim) table for token ids: only those rows are unpacked."""
        if self.resident:
            return torch.nn.functional.embedding(ids, self.matrix(name))
        tensor = self.tensors[name]
        flat = ids.reshape(-1).cpu().numpy()
        unique, inverse = np.unique(flat, return_inverse=True)
        began = time.perf_counter()
        table = dequantize(np.asarray(tensor.data)[unique], tensor.tensor_type, len(unique),
                           int(tensor.shape[0]), self.device)
        self.dequant_s += time.perf_counter() - began
        picked = table[torch.from_numpy(inverse).to(table.device)]
        return picked.reshape(*ids.shape, -1)

    def output_name(self) -> str:
        """The output head: its own tensor, or the tied token embeddings."""
        return "token_embd.weight" if self.shape.tied else "output.weight"

    def load_all(self) -> None:
        """Unpack every matrix now (a resident run pays the dequantization once).

        The file's pages read for it are then dropped from memory (they are clean, and come
        back from the file for the few vectors still read from it).
        """
        for name, tensor in self.tensors.items():
            if len(tensor.shape) == 2 and tensor.shape[1] > 1:
                self.matrix(name)
            else:
                self.vector(name)
        mapping = getattr(self.reader.data, "_mmap", None)
        with contextlib.suppress(AttributeError, OSError, ValueError):
            mapping.madvise(mmap.MADV_DONTNEED)  # type: ignore[union-attr]
        # Everything is unpacked: the reader's parsed metadata (the tokenizer's vocabulary and
        # merges as ~100k small numpy arrays, about 150 MB for the demo model) goes too.
        self.tensors = {}
        del self.reader
        gc.collect()


def read_gguf(path: Path) -> GGUFReader:
    """Open a GGUF memory-mapped; a damaged file is a bilingual error."""
    try:
        return GGUFReader(path, "r")
    except Exception as exc:  # the reader raises ValueError, struct and numpy errors alike
        raise errors.corrupt_gguf(str(path), f"{type(exc).__name__}: {exc}"[:200]) from None


def field(reader: GGUFReader, key: str, default: Any = None) -> Any:
    """A metadata value, or default."""
    found = reader.get_field(key)
    return default if found is None else found.contents()


def llama_shape(path: Path, reader: GGUFReader) -> LlamaShape:
    """The model's shape; anything but a well-formed llama GGUF is refused."""
    arch = field(reader, "general.architecture")
    if arch != "llama":
        raise errors.unsupported_arch(str(path), str(arch))
    names = {t.name: t for t in reader.tensors}
    try:
        dim = int(field(reader, "llama.embedding_length"))
        heads = int(field(reader, "llama.attention.head_count"))
        shape = LlamaShape(
            n_layers=int(field(reader, "llama.block_count")), dim=dim, n_heads=heads,
            n_kv_heads=int(field(reader, "llama.attention.head_count_kv", heads)),
            hidden=int(field(reader, "llama.feed_forward_length")),
            vocab=int(names["token_embd.weight"].shape[1]),
            context=int(field(reader, "llama.context_length", 2048)),
            rope_base=float(field(reader, "llama.rope.freq_base", 10000.0)),
            rope_dims=int(field(reader, "llama.rope.dimension_count", dim // heads)),
            eps=float(field(reader, "llama.attention.layer_norm_rms_epsilon", 1e-5)),
            tied="output.weight" not in names)
    except (TypeError, ValueError, KeyError) as exc:
        raise errors.corrupt_gguf(str(path), f"llama metadata: {exc}") from None
    _check_tensors(path, names, shape)
    return shape


def _check_tensors(path: Path, names: dict[str, Any], shape: LlamaShape) -> None:
    wanted = ["token_embd.weight", "output_norm.weight"]
    wanted += [f"blk.{i}.{t}.weight" for i in range(shape.n_layers) for t in LAYER_TENSORS]
    if not shape.tied:
        wanted.append("output.weight")
    for name in wanted:
        if name not in names:
            raise errors.corrupt_gguf(str(path), f"tensor {name} is missing")
        if not supported(names[name].tensor_type):
            raise errors.unsupported_type(str(path), name, names[name].tensor_type.name)


def dequantized_bytes(reader: GGUFReader) -> int:
    """What every weight takes once unpacked to float32."""
    return sum(int(t.n_elements) * 4 for t in reader.tensors)


def open_weights(path: Path, device: torch.device, ram_gb: float) -> GGUFWeights:
    """The circuit's GGUF, resident when its float32 weights fit the budget."""
    reader = read_gguf(path)
    shape = llama_shape(path, reader)
    resident = dequantized_bytes(reader) + RESIDENT_HEADROOM <= ram_gb * GIB
    return GGUFWeights(path, reader, shape, device, resident)
