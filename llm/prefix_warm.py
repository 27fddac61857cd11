"""Warm one static prefix at load: restore its state from the disk cache, or evaluate and save it.

Whatever goes wrong with the cache (an unreadable folder, a damaged or foreign file, llama.cpp
refusing a state) costs only the restore: the prefix is evaluated as if there were no cache,
and the file rewritten. `summary()` says, for /ready, which prefixes were restored and how long
each took.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm.llama_private import drop_cells, logits_stale
from llm.prefix_cache import PrefixCache, context_identity, prefix_key
from llm.prefix_state import read_sequence, write_sequence

if TYPE_CHECKING:
    from llm.config import LlamaConfig

log = logging.getLogger(__name__)


class PrefixWarmer:
    """Restores or evaluates the prefixes of one loaded model, one after the other."""

    def __init__(self, llama: Any, config: LlamaConfig) -> None:
        self.llama = llama
        self.config = config
        self.cache = (
            PrefixCache(Path(config.cache_dir), config.cache_max_bytes)
            if config.cache_dir and config.cache_max_bytes > 0
            else None
        )
        self._identity: dict[bool, dict[str, Any]] = {}
        self.entries: list[dict[str, Any]] = []
        self.error: str | None = None

    def warm(self, tokens: Sequence[int], keep: bool = False,
             adapted: bool = False) -> bytes | None:
        """Make `tokens` the live prefix; its state bytes when `keep` (None otherwise).

        `adapted`: the LoRA adapter is applied on the context (the key says so).
        """
        started = time.monotonic()
        key = self._key(tokens, adapted)
        if key is not None and self.cache is not None:
            payload = self.cache.load(key, len(tokens))
            if payload is not None and write_sequence(self.llama, tokens, payload):
                self._touch(tokens)
                self._note("restored", tokens, started, len(payload), adapted)
                return payload if keep else None
        self.llama.reset()
        self.llama.eval(list(tokens))
        want_bytes = keep or (key is not None and self.cache is not None)
        payload = read_sequence(self.llama) if want_bytes else None
        if payload is not None and key is not None and self.cache is not None:
            if not self.cache.save(key, len(tokens), payload):
                self.error = f"cannot write the prefix cache in {self.cache.root}"
        self._note("computed", tokens, started, len(payload or b""), adapted)
        return payload if keep else None

    def _touch(self, tokens: Sequence[int]) -> None:
        """One throw-away token through the model after a restore, then dropped again.

        Evaluating a prefix pages every weight in and sizes llama.cpp's compute buffers;
        restoring one does neither, and the first request would pay for both. The token goes
        at the end of the restored prefix and is removed, so the state stays exactly it.
        """
        n = len(tokens)
        self.llama.eval([tokens[-1]])
        drop_cells(self.llama, n)
        self.llama.n_tokens = n
        logits_stale(self.llama)

    def _key(self, tokens: Sequence[int], adapted: bool) -> str | None:
        if self.cache is None:
            return None
        try:
            if adapted not in self._identity:
                cfg = self.config
                lora = cfg.lora_path if adapted else None  # the base's state: no adapter in it
                self._identity[adapted] = context_identity(
                    self.llama, cfg.model_path, cfg.n_gpu_layers, lora, cfg.lora_scale)
            return prefix_key(self._identity[adapted], tokens)
        except (OSError, AttributeError, ValueError) as exc:  # the cache is optional
            log.warning("prefix cache disabled for this load: %s", exc)
            self.error = str(exc)
            self.cache = None
            return None

    def _note(self, source: str, tokens: Sequence[int], started: float, size: int,
              adapted: bool) -> None:
        entry: dict[str, Any] = {"source": source, "tokens": len(tokens),
                 "s": round(time.monotonic() - started, 4), "bytes": size}
        if self.config.lora_path:
            entry["adapter"] = adapted  # warmed with the adapter (the origin's) or without
        self.entries.append(entry)

    def summary(self) -> dict[str, Any]:
        """For /ready: 'restored', 'computed' or 'mixed', each prefix, the cache folder."""
        sources = {entry["source"] for entry in self.entries}
        source = sources.pop() if len(sources) == 1 else ("mixed" if sources else "none")
        doc: dict[str, Any] = {
            "source": source,
            "s": round(sum(entry["s"] for entry in self.entries), 4),
            "prefixes": self.entries,
            "cache": self.cache is not None,
        }
        if self.error:
            doc["cache_error"] = self.error
        return doc
