"""The built-in `echo` backend: model-free, deterministic, for plumbing tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import ClassVar

from llm.backend import Backend, Generation


class EchoBackend(Backend):
    """Answers from the prompt itself: `[<circuit>] <last user message>`."""

    kind: ClassVar[str] = "echo"
    supports_json_schema: ClassVar[bool] = True

    def __init__(self, circuit: str) -> None:
        self.circuit = circuit

    def load(self) -> None:
        """Nothing to load."""

    def stream(self, gen: Generation) -> Iterator[str]:
        """Yield the echo word by word, at most `max_tokens` words."""
        prompt = next((m["content"] for m in reversed(gen.messages) if m["role"] == "user"), "")
        if gen.json_schema is not None:
            yield json.dumps({"description": prompt[:200], "files": []}, ensure_ascii=False)
            return
        words = f"[{self.circuit}] {prompt}".split(" ")
        for i, word in enumerate(words[: gen.max_tokens]):
            if gen.cancel.is_set():
                return
            yield word if i == 0 else " " + word
