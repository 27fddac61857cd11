"""GGUF metadata from the file header (gguf's GGUFReader), never loading the weights."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from gguf import (
    GGML_QUANT_SIZES,
    GGMLQuantizationType,
    GGUFReader,
    GGUFValueType,
    LlamaFileType,
    ReaderField,
)

from core.errors import ConfigError


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header declares it (no data is touched)."""

    name: str
    type_name: str
    n_elements: int
    n_bytes: int
    end: int  # absolute file offset where its data ends


BIG_ARRAY = 64  # longer metadata arrays (the vocabulary) are skipped, only their length kept


class _HeaderReader(GGUFReader):
    """GGUFReader that records tensor infos instead of building numpy views of the data.

    The parent maps every tensor's data; with a header-only stub (or a download cut
    short) that fails. Sizes come from the declared shape and type instead. Long
    arrays (tokens, merges: ~10^5 strings) are stepped over instead of parsed, which
    makes reading a header ~50x faster; their contents read as [].
    """

    tensor_infos: list[TensorInfo]

    def _get_field_parts(
        self, orig_offs: int, raw_type: int,
    ) -> tuple[int, list[npt.NDArray[Any]], list[int], list[GGUFValueType]]:
        if raw_type != GGUFValueType.ARRAY or self.byte_order == "S":
            return super()._get_field_parts(orig_offs, raw_type)
        raw_itype = self._get(orig_offs, np.uint32)
        alen = self._get(orig_offs + 4, np.uint64)
        itype = GGUFValueType(int(raw_itype[0]))
        count = int(alen[0])
        if count <= BIG_ARRAY or itype == GGUFValueType.ARRAY:
            return super()._get_field_parts(orig_offs, raw_type)
        offs = orig_offs + 12
        if itype == GGUFValueType.STRING:
            view = self.data.data  # the memmap as a memoryview: cheap slices
            for _ in range(count):
                offs += 8 + int.from_bytes(view[offs:offs + 8], "little")
        else:
            offs += count * np.dtype(self.gguf_scalar_to_np[itype]).itemsize
        return offs - orig_offs, [raw_itype, alen], [], [GGUFValueType.ARRAY, itype]

    def _build_tensors(self, start_offs: int, fields: list[ReaderField]) -> None:
        infos = []
        for field in fields:
            _name_len, name_data, _n_dims, dims, raw_dtype, offset_tensor = field.parts
            qtype = GGMLQuantizationType(int(raw_dtype[0]))
            block_size, type_size = GGML_QUANT_SIZES[qtype]
            n_elements = int(np.prod(dims.astype(np.int64)))
            n_bytes = n_elements * type_size // block_size
            start = int(start_offs + int(offset_tensor[0]))
            infos.append(
                TensorInfo(bytes(name_data).decode("utf-8"), qtype.name, n_elements, n_bytes,
                           start + n_bytes)
            )
        self.tensor_infos = infos
        self.tensors = []


@dataclass(frozen=True)
class GGUFInfo:
    """What the planner and the scan need from a GGUF header."""

    path: Path
    file_size: int
    architecture: str
    name: str
    block_count: int
    context_length: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    key_length: int
    value_length: int
    expert_count: int
    vocab_size: int
    file_type: str
    quantization: str
    parameters: int
    weights_bytes: int
    data_end: int

    @property
    def truncated(self) -> bool:
        """True when the header declares more tensor data than the file holds."""
        return self.data_end > self.file_size


def _value(reader: GGUFReader, key: str, default: Any = None) -> Any:
    field = reader.get_field(key)
    if field is None:
        return default
    value = field.contents()
    if isinstance(value, list):  # per-layer arrays (some archs): the largest value
        numbers = [v for v in value if isinstance(v, int | float)]
        return max(numbers) if numbers else default
    return value


def _file_type(value: Any) -> str:
    try:
        return LlamaFileType(int(value)).name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        return "unknown"


def read_gguf_info(path: Path) -> GGUFInfo:
    """Read a GGUF header; a missing or invalid file raises ConfigError."""
    try:
        file_size = path.stat().st_size
        reader = _HeaderReader(path, "r")
    except FileNotFoundError:
        raise ConfigError(
            f"Model file not found: {path}. Run `echo-brain fetch-models` or fix ECHO_*_MODEL.",
            f"모델 파일이 없습니다: {path}. `echo-brain fetch-models`를 실행하거나 "
            "ECHO_*_MODEL을 고치세요.",
        ) from None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ConfigError(
            f"Not a valid GGUF file: {path} ({exc}). Download it again (fetch-models).",
            f"올바른 GGUF 파일이 아닙니다: {path} ({exc}). 다시 내려받으세요 (fetch-models).",
        ) from None
    arch = str(_value(reader, "general.architecture", "unknown"))
    embd = int(_value(reader, f"{arch}.embedding_length", 0))
    heads = int(_value(reader, f"{arch}.attention.head_count", 0))
    kv_heads = int(_value(reader, f"{arch}.attention.head_count_kv", heads))
    head_dim = embd // heads if heads else 0
    key_length = int(_value(reader, f"{arch}.attention.key_length", head_dim))
    tokens = reader.get_field("tokenizer.ggml.tokens")
    n_tokens = int(tokens.parts[4][0]) if tokens is not None and len(tokens.parts) > 4 else 0
    infos = reader.tensor_infos
    by_type: Counter[str] = Counter()
    for t in infos:
        by_type[t.type_name] += t.n_bytes
    return GGUFInfo(
        path=path,
        file_size=file_size,
        architecture=arch,
        name=str(_value(reader, "general.name", path.stem)),
        block_count=int(_value(reader, f"{arch}.block_count", 0)),
        context_length=int(_value(reader, f"{arch}.context_length", 0)),
        embedding_length=embd,
        head_count=heads,
        head_count_kv=kv_heads,
        key_length=key_length,
        value_length=int(_value(reader, f"{arch}.attention.value_length", key_length)),
        expert_count=int(_value(reader, f"{arch}.expert_count", 0)),
        vocab_size=int(_value(reader, f"{arch}.vocab_size", n_tokens)),
        file_type=_file_type(_value(reader, "general.file_type")),
        quantization=by_type.most_common(1)[0][0] if by_type else "unknown",
        parameters=sum(t.n_elements for t in infos),
        weights_bytes=sum(t.n_bytes for t in infos),
        data_end=max((t.end for t in infos), default=reader.data_offset),
    )
