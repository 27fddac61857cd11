"""GGUF models through llama-cpp-python: the GGUF's own chat template, mmap, warm prefixes.

This backend runs inside a circuit's worker process (`llm.worker`). At load it evaluates
each static system prefix (persona + declarations) so the first request only pays for its
own remembered lines and prompt; with more than one prefix (the synthesis) it keeps each
prefix's state and restores the right one instead of evaluating it again. With a cache
folder (`LlamaConfig.cache_dir`) each evaluated prefix is saved to disk, and the next start
of the worker restores it instead of evaluating it (`llm.prefix_cache`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from llm.adapter import check_adapter, load_adapter
from llm.backend import TRAINED_ON_MEMORY_KEY, Backend, BackendError, Generation
from llm.config import LlamaConfig
from llm.live_state import LiveState, WarmPrefix, common_prefix
from llm.llama_private import token_text
from llm.prefix_warm import PrefixWarmer

log = logging.getLogger(__name__)

SENTINEL = "\u2063\u2063echo-prefix-end\u2063\u2063"  # cut mark inside a templated prefix



__all__ = ["LlamaBackend", "LlamaConfig", "common_prefix"]  # LlamaConfig lives in llm.config


class LlamaBackend(Backend):
    """One `llama_cpp.Llama` (not thread-safe: the circuit serializes calls)."""

    kind: ClassVar[str] = "llama"
    supports_json_schema: ClassVar[bool] = True

    def __init__(self, config: LlamaConfig) -> None:
        self.config = config
        self.model_path = Path(config.model_path)
        self._llama: Any = None
        self._formatter: Any = None
        self._live: LiveState | None = None
        self._trained_on_memory = False
        self._warmup_s: float | None = None
        self._adapter: dict[str, Any] | None = None
        self._prefix_info: dict[str, Any] | None = None

    @property
    def adapter(self) -> dict[str, Any] | None:
        """The LoRA adapter applied on the model (file, scale, base fingerprint…)."""
        return self._adapter

    @property
    def warmup_s(self) -> float | None:
        """Seconds spent evaluating (or restoring) the static prefixes at load."""
        return self._warmup_s

    @property
    def prefix(self) -> dict[str, Any] | None:
        """Which prefixes were restored from the disk cache and which computed."""
        return self._prefix_info

    @property
    def trained_on_memory(self) -> bool:
        """The GGUF says its model learned from the memory (the origin's own model)."""
        return self._trained_on_memory

    def load(self) -> None:
        """Map the GGUF file, build the context and warm the static prefixes."""
        if not self.model_path.is_file():
            raise BackendError(
                f"model file not found: {self.model_path} "
                f"(set ECHO_*_MODEL or run `echo-brain fetch-models`) / 모델 파일이 없습니다"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - setup problem
            raise BackendError(f"llama-cpp-python is not installed: {exc}") from exc
        cfg = self.config
        if cfg.lora_path:  # refuse an adapter made for another base before loading anything
            self._adapter = check_adapter(Path(cfg.lora_path), self.model_path, cfg.lora_scale)
        try:
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=cfg.n_ctx,
                n_gpu_layers=cfg.n_gpu_layers,
                n_threads=cfg.n_threads,
                n_threads_batch=cfg.n_threads_batch,
                use_mmap=True,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports bad files as ValueError/RuntimeError
            raise BackendError(f"cannot load {self.model_path.name}: {exc}") from exc
        handle = None
        if self._adapter is not None:
            handle = self._load_adapter(Path(str(cfg.lora_path)), self._adapter["architecture"])
        self._live = LiveState(self._llama, handle, cfg.lora_scale)
        self._trained_on_memory = _flagged(self._llama.metadata)
        self._formatter = chat_formatter(self._llama)
        started = time.monotonic()
        self._warm(cfg.prefixes)
        self._warmup_s = time.monotonic() - started

    def _load_adapter(self, lora: Path, architecture: str) -> Any:
        try:
            return load_adapter(self._llama, lora, architecture)
        except BackendError:
            self.close()
            raise

    def _warm(self, texts: Sequence[str]) -> None:
        """Evaluate each static prefix: without the adapter, then with it (when there is one)."""
        live = self._live
        if self._formatter is None or not texts or live is None:
            return
        warmer = PrefixWarmer(self._llama, self.config)
        keep_states = len(texts) * len(live.modes) > 1  # states that take turns are kept
        prefixes = [t for t in map(self._prefix_tokens, texts)
                    if t and len(t) < self.config.n_ctx - 64]
        for adapted in live.modes:  # the adapter last: the origin's first turn finds it on
            live.set_adapted(adapted)
            for tokens in prefixes:
                state = warmer.warm(tokens, keep=keep_states, adapted=adapted)
                live.prefixes.append(WarmPrefix(tokens, adapted, state))
        self._prefix_info = warmer.summary()

    def _prefix_tokens(self, text: str) -> list[int]:
        """The tokens a chat-templated system message starting with `text` begins with."""
        rendered = self._formatter(messages=[{"role": "system", "content": text + SENTINEL}])
        head = rendered.prompt.split(SENTINEL, 1)[0]
        if head == rendered.prompt:
            return []
        tokens = self._tokenize(head, rendered.added_special)
        return tokens[:-1]  # the last token may merge with what follows: leave it out

    def _tokenize(self, text: str, added_special: bool) -> list[int]:
        return list(
            self._llama.tokenize(text.encode("utf-8"), add_bos=not added_special, special=True)
        )

    def stream(self, gen: Generation) -> Iterator[str]:
        """Stream a chat completion, stopping at the next token once cancelled.

        The origin gets the adapter, anyone else the base model; no caller reuses the KV
        state another left beyond the static prefix (`llm.live_state`).
        """
        if self._llama is None or self._live is None:
            raise BackendError("model is not loaded")
        if self._formatter is None:
            self._live.forget(gen.audience, gen.origin)
            yield from self._stream_chat(gen)
            return
        rendered = self._formatter(messages=gen.messages)
        tokens = self._tokenize(rendered.prompt, rendered.added_special)
        room = self.config.n_ctx - len(tokens)
        if room <= 0:
            raise BackendError(
                f"the prompt has {len(tokens)} tokens; the context holds {self.config.n_ctx} "
                "(ECHO_N_CTX) / 프롬프트가 문맥보다 깁니다"
            )
        cached = self._live.prepare(tokens, gen.audience, gen.origin)
        gen.usage.update(prompt_tokens=len(tokens), cached_tokens=cached, completion_tokens=0)
        stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop]
        kwargs = self._sampling(gen, min(gen.max_tokens, room))
        if gen.json_schema is not None:
            from llama_cpp import LlamaGrammar

            kwargs["grammar"] = LlamaGrammar.from_json_schema(
                json.dumps(gen.json_schema), verbose=False
            )
        chunks = self._llama.create_completion(
            prompt=tokens,
            stream=True,
            stop=[s for s in stop if s],
            stopping_criteria=rendered.stopping_criteria,
            **kwargs,
        )
        yield from self._drain(chunks, gen, lambda choice: choice.get("text"))

    def _sampling(self, gen: Generation, max_tokens: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_tokens": max_tokens}
        if gen.temperature is not None:
            kwargs["temperature"] = gen.temperature
        if gen.repeat_penalty is not None:
            kwargs["repeat_penalty"] = gen.repeat_penalty
        return kwargs

    def _drain(
        self, chunks: Any, gen: Generation, text_of: Callable[[dict[str, Any]], str | None]
    ) -> Iterator[str]:
        """Yield each chunk's text, counting tokens; stop at the next one once cancelled."""
        try:
            for chunk in chunks:
                if gen.cancel.is_set():
                    break
                text = text_of(chunk["choices"][0])
                if text:
                    gen.usage["completion_tokens"] = gen.usage.get("completion_tokens", 0) + 1
                    yield text
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _stream_chat(self, gen: Generation) -> Iterator[str]:
        """Fallback for a GGUF without a chat template: llama-cpp-python's own format."""
        kwargs = self._sampling(gen, gen.max_tokens)
        if gen.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": gen.json_schema}
        chunks = self._llama.create_chat_completion(messages=gen.messages, stream=True, **kwargs)
        yield from self._drain(chunks, gen, lambda choice: choice.get("delta", {}).get("content"))

    def close(self) -> None:
        """Free the model and its context."""
        self._live = None
        if self._llama is not None:
            closer = getattr(self._llama, "close", None)
            if closer is not None:
                closer()
            self._llama = None

    def describe(self) -> str:
        """The model's file name (never a full secret-bearing path), and its adapter's."""
        lora = f"+lora:{Path(self.config.lora_path).name}" if self.config.lora_path else ""
        return f"llama:{self.model_path.name}{lora}"


def _flagged(metadata: dict[str, str]) -> bool:
    """True when the GGUF carries `echo_brain.trained_on_memory = true`."""
    return str(metadata.get(TRAINED_ON_MEMORY_KEY, "")).strip().lower() in ("true", "1")


def chat_formatter(llama: Any) -> Any:
    """A Jinja2 formatter for the GGUF's own chat template (None when it has none)."""
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = token_text(llama, eos_id) if eos_id != -1 else ""
    bos = token_text(llama, bos_id) if bos_id != -1 else ""
    return Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id]
    )
