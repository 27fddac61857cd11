"""The message a circuit's worker gets to load one model: a plain dataclass, no imports.

The server side builds it (core/circuits.py) and sends it to the worker process; only the
worker imports llama-cpp-python (llm/llama_backend.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LlamaConfig:
    """Everything a worker needs to load one model (picklable, secret-free)."""

    model_path: str
    n_ctx: int = 4096
    n_gpu_layers: int = -1
    n_threads: int | None = None
    n_threads_batch: int | None = None
    prefixes: list[str] = field(default_factory=list)
    lora_path: str | None = None  # a GGUF LoRA adapter made for this exact base model
    lora_scale: float = 1.0
    cache_dir: str | None = None  # evaluated prefixes on disk (None: never saved)
    cache_max_bytes: int = 2 << 30
