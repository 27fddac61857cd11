"""The one small backend contract every circuit backend follows.

A backend turns chat messages into a stream of text chunks. It is blocking and
not thread-safe; `llm.circuit.Circuit` serializes the calls and runs them on its
own worker thread. A backend whose model runs in a child process raises
`WorkerDied` when that process dies; the circuit then restarts it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

Message = dict[str, str]
# GGUF metadata of a model that learned from the origin's memory (`echo-brain train` writes
# it): its circuit answers the origin only.
TRAINED_ON_MEMORY_KEY = "echo_brain.trained_on_memory"


@dataclass
class Generation:
    """One request to a backend."""

    messages: list[Message]
    max_tokens: int
    temperature: float | None = None
    json_schema: dict[str, Any] | None = None
    repeat_penalty: float | None = None
    # Who asks: `origin` gets what was learned from the memory (a LoRA adapter);
    # `audience` names the caller whose KV state a request may reuse (None: anonymous,
    # never shared beyond the static prefix).
    origin: bool = False
    audience: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    # Filled by the backend when it can count: prompt_tokens, completion_tokens,
    # cached_tokens (prompt tokens reused from the KV cache).
    usage: dict[str, int] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The picklable request a worker process receives (no event, no usage)."""
        return {
            "messages": self.messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "json_schema": self.json_schema,
            "repeat_penalty": self.repeat_penalty,
            "origin": self.origin,
            "audience": self.audience,
        }

    @classmethod
    def from_wire(cls, doc: dict[str, Any]) -> Generation:
        """The inverse of `to_wire`, in the worker process."""
        return cls(**doc)


class BackendError(Exception):
    """A backend failed to load or to answer; the message is shown to the user."""


class WorkerDied(BackendError):
    """The backend's worker process ended (a signal, an exit, out of memory)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"worker died ({reason}); restarting / 회로 프로세스가 종료되어 다시 시작합니다"
        )
        self.reason = reason


class QueueFull(Exception):
    """A circuit's bounded queue is full (the caller maps it to 429 + Retry-After)."""

    def __init__(self, circuit: str, size: int) -> None:
        super().__init__(f"circuit {circuit} is busy ({size} requests waiting)")
        self.circuit = circuit
        self.size = size


class Backend(ABC):
    """Load once, then stream text chunks for a `Generation`."""

    kind: ClassVar[str] = "base"
    supports_json_schema: ClassVar[bool] = False

    @abstractmethod
    def load(self) -> None:
        """Prepare the model (may take long); raise BackendError with the reason."""

    @abstractmethod
    def stream(self, gen: Generation) -> Iterator[str]:
        """Yield text chunks (about one token each) until done or `gen.cancel` is set."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model."""

    def describe(self) -> str:
        """A short, secret-free description for /ready and logs."""
        return self.kind

    def exit_reason(self) -> str | None:
        """Why the worker process ended, if it has (None: alive, or no worker)."""
        return None

    def count_tokens(self, text: str) -> int | None:
        """Tokens `text` takes in this model (None: no tokenizer here)."""
        return None

    @property
    def pid(self) -> int | None:
        """The worker process serving this backend (None: it runs in the server)."""
        return None

    @property
    def warmup_s(self) -> float | None:
        """Seconds spent evaluating the static prompt prefixes at load (None: none)."""
        return None

    @property
    def adapter(self) -> dict[str, Any] | None:
        """The LoRA adapter applied on the model: file, scale, base fingerprint (None: none)."""
        return None

    @property
    def prefix(self) -> dict[str, Any] | None:
        """How the static prefixes were warmed: restored from disk or computed (None: none)."""
        return None

    @property
    def trained_on_memory(self) -> bool:
        """True when the model itself learned from the memory (its GGUF says so)."""
        return False
