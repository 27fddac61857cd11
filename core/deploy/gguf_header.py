"""GGUF metadata from the file header (gguf's GGUFReader), never loading the weights."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf import GGUFReader, LlamaFileType

from core.errors import ConfigError
from llm.gguf_reader import HeaderReader


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
        reader = HeaderReader(path, "r")
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
