"""The LoRA adapter as a GGUF that llama.cpp loads (llama-adapter.cpp's checks).

general.type = adapter, adapter.type = lora, adapter.lora.alpha; for each adapted weight
`<name>.lora_a` with ggml ne = [n_in, rank] (numpy (rank, n_in)) and `<name>.lora_b` with
ne = [rank, n_out] (numpy (n_out, rank)); llama.cpp adds scale · alpha / rank · B·A·x.
Our own keys name the base: echo.base.fingerprint and echo.base.file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFWriter

from trainkit.files import write_with

FINGERPRINT_KEY = "echo.base.fingerprint"
BASE_FILE_KEY = "echo.base.file"


@dataclass(frozen=True)
class AdapterInfo:
    """Which base an adapter was made for."""

    architecture: str
    alpha: float
    base_fingerprint: str
    base_file: str


def write_adapter(path: Path, info: AdapterInfo,
                  pairs: dict[str, tuple[np.ndarray, np.ndarray]], name: str) -> None:
    """Atomically write pairs {base tensor name: (A (r, in), B (out, r))} as a LoRA GGUF."""
    def write(tmp: Path) -> None:
        writer = GGUFWriter(tmp, info.architecture)
        writer.add_type("adapter")
        writer.add_name(name)
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", float(info.alpha))
        writer.add_string(FINGERPRINT_KEY, info.base_fingerprint)
        writer.add_string(BASE_FILE_KEY, info.base_file)
        for base, (a, b) in sorted(pairs.items()):
            writer.add_tensor(f"{base}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
            writer.add_tensor(f"{base}.lora_b", np.ascontiguousarray(b, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    write_with(path, write)


def read_adapter(path: Path) -> tuple[AdapterInfo, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """An adapter GGUF back as its info and (A, B) pairs (tests, and the bench's check)."""
    reader = GGUFReader(path, "r")

    def value(key: str) -> object:
        found = reader.get_field(key)
        return None if found is None else found.contents()

    info = AdapterInfo(str(value("general.architecture")), float(str(value("adapter.lora.alpha"))),
                       str(value(FINGERPRINT_KEY)), str(value(BASE_FILE_KEY)))
    tensors = {t.name: np.array(t.data) for t in reader.tensors}
    pairs = {name[: -len(".lora_a")]: (tensors[name], tensors[name[:-1] + "b"])
             for name in tensors if name.endswith(".lora_a")}
    return info, pairs
