"""A LoRA adapter on a circuit's GGUF: read its header, check its base, attach it.

An adapter is a small GGUF (`general.type` adapter, `adapter.type` lora) holding
`<base tensor>.lora_a` / `.lora_b` pairs. `echo-brain tune` also writes the fingerprint of
the base model it learned on (`echo.base.fingerprint`, `llm.fingerprint`): an adapter made
for another base is refused before llama.cpp sees it. An adapter without that key (made by
llama.cpp's own converter) is accepted with a warning: llama.cpp still checks every
tensor's name and shape against the base.

The adapter is attached through llama.cpp's own calls instead of `Llama(lora_path=...)`,
which turns memory mapping off and would read the whole base model into RAM.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm.backend import BackendError
from llm.fingerprint import model_fingerprint
from llm.llama_private import context_handle, model_handle, on_close

FINGERPRINT_KEY = "echo.base.fingerprint"
BASE_FILE_KEY = "echo.base.file"
NO_FINGERPRINT = (
    "the adapter does not say which base model it was made for (no echo.base.fingerprint): "
    "llama.cpp checks only tensor names and shapes / 어댑터에 기반 모델 지문이 없습니다"
)


@dataclass(frozen=True)
class AdapterHeader:
    """What an adapter's GGUF header declares (no tensor data is read)."""

    file: str
    general_type: str
    adapter_type: str
    architecture: str
    alpha: float | None
    rank: int | None
    pairs: int
    base_fingerprint: str | None
    base_file: str | None
    shapes: dict[str, tuple[int, ...]]  # ggml ne of every tensor, by name


def _text(reader: Any, key: str) -> str | None:
    field = reader.get_field(key)
    if field is None:
        return None
    value = field.contents()
    return value if isinstance(value, str) else str(value)


def _number(reader: Any, key: str) -> float | None:
    field = reader.get_field(key)
    if field is None:
        return None
    value = field.contents()
    return float(value) if isinstance(value, int | float) else None


def read_adapter_header(path: Path) -> AdapterHeader:
    """Read an adapter's header; a missing or unreadable file raises BackendError."""
    if not path.is_file():
        raise BackendError(
            f"LoRA adapter not found: {path} (fix ECHO_<CIRCUIT>_LORA, relative to "
            f"ECHO_MODELS_DIR) / LoRA 어댑터 파일이 없습니다: {path}"
        )
    try:
        from llm.gguf_reader import HeaderReader  # numpy + gguf: only with an adapter

        reader = HeaderReader(path, "r")
    except Exception as exc:  # gguf raises ValueError, KeyError, IndexError… on bad bytes
        raise BackendError(
            f"{path.name} is not a valid GGUF file ({exc}): not a LoRA adapter "
            f"/ {path.name}은(는) 올바른 GGUF 파일이 아니므로 LoRA 어댑터가 아닙니다"
        ) from None
    ranks = [t.shape[1] for t in reader.tensor_infos
             if t.name.endswith(".lora_a") and len(t.shape) > 1]
    return AdapterHeader(
        file=path.name,
        general_type=_text(reader, "general.type") or "",
        adapter_type=_text(reader, "adapter.type") or "",
        architecture=_text(reader, "general.architecture") or "",
        alpha=_number(reader, "adapter.lora.alpha"),
        rank=max(ranks) if ranks else None,
        pairs=len(ranks),
        base_fingerprint=_text(reader, FINGERPRINT_KEY),
        base_file=_text(reader, BASE_FILE_KEY),
        shapes={t.name: t.shape for t in reader.tensor_infos},
    )


def misfit(header: AdapterHeader, model_path: Path) -> str | None:
    """The first LoRA pair whose name or shape does not fit the base model (llama.cpp's rules)."""
    from llm.gguf_reader import HeaderReader

    model = {t.name: t.shape for t in HeaderReader(model_path, "r").tensor_infos}
    for name, a in header.shapes.items():
        if not name.endswith(".lora_a"):
            continue
        base = name.removesuffix(".lora_a")
        b = header.shapes.get(base + ".lora_b")
        if b is None:
            return f"{base}.lora_b is missing"
        if base not in model:
            return f"the model has no tensor {base}"
        if base.startswith("token_embd") or len(a) < 2 or len(b) < 2:
            continue  # embeddings use another layout; llama.cpp checks them
        want = model[base]
        if a[0] != want[0] or b[1] != want[1] or a[1] != b[0]:
            return f"{base}: A {list(a)}, B {list(b)} do not fit the model's {list(want)}"
    return None


def check_adapter(lora_path: Path, model_path: Path, scale: float) -> dict[str, Any]:
    """Refuse a file that is not a LoRA adapter for this base; return its /ready document."""
    header = read_adapter_header(lora_path)
    if header.general_type != "adapter" or header.adapter_type != "lora":
        found = (f"general.type={header.general_type or '?'}, "
                 f"adapter.type={header.adapter_type or '?'}")
        raise BackendError(
            f"{header.file} is not a LoRA adapter ({found}; expected adapter, lora): "
            f"point ECHO_<CIRCUIT>_LORA at an adapter made by `echo-brain tune` "
            f"/ {header.file}은(는) LoRA 어댑터가 아닙니다"
        )
    if not math.isfinite(scale):
        raise BackendError(f"LoRA scale must be a finite number, got {scale}")
    model_fp = model_fingerprint(model_path)
    if header.base_fingerprint is not None and header.base_fingerprint != model_fp:
        made_for = header.base_file or "another model"
        raise BackendError(
            f"{header.file} was made for another base model ({made_for}, fingerprint "
            f"{header.base_fingerprint[:12]}), not {model_path.name} ({model_fp[:12]}): "
            f"tune an adapter for this model or set the circuit's model back "
            f"/ 이 어댑터는 다른 기반 모델({made_for})용입니다"
        )
    _refuse_misfit(header, model_path)
    return _document(header, scale, model_fp)


def _document(header: AdapterHeader, scale: float, model_fp: str) -> dict[str, Any]:
    """What /ready shows of an accepted adapter."""
    signed = header.base_fingerprint is not None
    return {
        "file": header.file,
        "scale": scale,
        "architecture": header.architecture,
        "alpha": header.alpha,
        "rank": header.rank,
        "tensors": header.pairs * 2,
        "base_file": header.base_file,
        "base_fingerprint": header.base_fingerprint,
        "model_fingerprint": model_fp,
        "matches": True if signed else None,
        "warning": None if signed else NO_FINGERPRINT,
    }


def _refuse_misfit(header: AdapterHeader, model_path: Path) -> None:
    try:
        problem = misfit(header, model_path)
    except Exception:  # an unreadable model fails its own load with its own reason
        return
    if problem:
        raise BackendError(
            f"{header.file} does not fit {model_path.name}: {problem} "
            f"/ 어댑터의 텐서가 이 모델과 맞지 않습니다"
        )


def load_adapter(llama: Any, lora_path: Path, architecture: str) -> Any:
    """Load the adapter into a loaded `llama_cpp.Llama`, not yet applied; its handle."""
    import llama_cpp

    model_arch = str(llama.metadata.get("general.architecture", ""))
    if architecture and model_arch and architecture != model_arch:
        raise BackendError(
            f"{lora_path.name} is for the {architecture} architecture, the model is "
            f"{model_arch} / 어댑터와 모델의 구조가 다릅니다"
        )
    adapter = llama_cpp.llama_adapter_lora_init(model_handle(llama), str(lora_path).encode())
    if not adapter:
        raise BackendError(
            f"llama.cpp could not load {lora_path.name} on this model "
            "/ llama.cpp가 어댑터를 읽지 못했습니다"
        )
    on_close(llama, lambda: llama_cpp.llama_adapter_lora_free(adapter))
    return adapter


def apply_adapter(llama: Any, adapter: Any, scale: float) -> None:
    """Apply a loaded adapter to the context at `scale`, or clear it (`adapter` None).

    The adapter belongs to the context, not to the KV cells: what was evaluated before
    stays as it was, so the caller restores a KV state made with the same setting.
    """
    import llama_cpp

    if adapter is None:
        failed = llama_cpp.llama_set_adapters_lora(context_handle(llama), None, 0, None)
    else:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
        scales = (ctypes.c_float * 1)(scale)
        failed = llama_cpp.llama_set_adapters_lora(context_handle(llama), adapters, 1, scales)
    if failed:
        raise BackendError("llama.cpp could not switch the LoRA adapter / 어댑터 전환 실패")


def attach_adapter(llama: Any, lora_path: Path, scale: float, architecture: str) -> Any:
    """Load the adapter into a loaded `llama_cpp.Llama` and apply it at `scale`; its handle."""
    adapter = load_adapter(llama, lora_path, architecture)
    apply_adapter(llama, adapter, scale)
    return adapter
