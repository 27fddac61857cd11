"""GGUF models through llama-cpp-python (the GGUF's own chat template, mmap)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from llm.backend import Backend, BackendError, Generation

log = logging.getLogger(__name__)


class LlamaBackend(Backend):
    """One `llama_cpp.Llama` (not thread-safe: the circuit serializes calls)."""

    kind: ClassVar[str] = "llama"
    supports_json_schema: ClassVar[bool] = True

    def __init__(
        self, model_path: Path, *, n_ctx: int, n_gpu_layers: int, n_threads: int | None = None
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_gpu_layers = n_gpu_layers
        self.n_threads = n_threads
        self._llama: Any = None

    def load(self) -> None:
        """Map the GGUF file and build the context."""
        if not self.model_path.is_file():
            raise BackendError(
                f"model file not found: {self.model_path} "
                f"(set ECHO_*_MODEL or run `echo-brain fetch-models`) / 모델 파일이 없습니다"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - setup problem
            raise BackendError(f"llama-cpp-python is not installed: {exc}") from exc
        try:
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_gpu_layers=self.n_gpu_layers,
                n_threads=self.n_threads,
                use_mmap=True,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports bad files as ValueError/RuntimeError
            raise BackendError(f"cannot load {self.model_path.name}: {exc}") from exc

    def stream(self, gen: Generation) -> Iterator[str]:
        """Stream a chat completion, stopping at the next token once cancelled."""
        if self._llama is None:
            raise BackendError("model is not loaded")
        kwargs: dict[str, Any] = {"max_tokens": gen.max_tokens, "stream": True}
        if gen.temperature is not None:
            kwargs["temperature"] = gen.temperature
        if gen.repeat_penalty is not None:
            kwargs["repeat_penalty"] = gen.repeat_penalty
        if gen.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": gen.json_schema}
        chunks = self._llama.create_chat_completion(messages=gen.messages, **kwargs)
        try:
            for chunk in chunks:
                if gen.cancel.is_set():
                    break
                text = chunk["choices"][0].get("delta", {}).get("content")
                if text:
                    yield text
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        """Free the model and its context."""
        if self._llama is not None:
            closer = getattr(self._llama, "close", None)
            if closer is not None:
                closer()
            self._llama = None

    def describe(self) -> str:
        """The model's file name (never a full secret-bearing path)."""
        return f"llama:{self.model_path.name}"
