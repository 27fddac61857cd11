"""The one small backend contract every circuit backend follows.

A backend turns chat messages into a stream of text chunks. It is blocking and
not thread-safe; `llm.circuit.Circuit` serializes the calls and runs them on its
own worker thread.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

Message = dict[str, str]


@dataclass
class Generation:
    """One request to a backend."""

    messages: list[Message]
    max_tokens: int
    temperature: float | None = None
    json_schema: dict[str, Any] | None = None
    repeat_penalty: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


class BackendError(Exception):
    """A backend failed to load or to answer; the message is shown to the user."""


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
