"""A fake backend for unit tests of circuit and orchestrator logic only."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from llm.backend import Backend, BackendError, Generation


class FakeBackend(Backend):
    """Yields queued replies word by word, sleeping between words; records overlap."""

    kind = "fake"

    def __init__(self, delay: float = 0.0, fail_load: str | None = None) -> None:
        self.delay = delay
        self.fail_load = fail_load
        self.gate: threading.Event | None = None  # when set, each answer waits for it
        self.replies: list[str] = []
        self.history: list[Generation] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def enqueue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def load(self) -> None:
        if self.fail_load:
            raise BackendError(self.fail_load)

    def stream(self, gen: Generation) -> Iterator[str]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.history.append(gen)
            if self.gate is not None:
                self.gate.wait(30)
            reply = self.replies.pop(0) if self.replies else "ok"
            for word in reply.split():
                if gen.cancel.is_set():
                    return
                time.sleep(self.delay)
                yield word + " "
        finally:
            with self._lock:
                self.active -= 1


def alive(pid: int) -> bool:
    """True while a process runs (a zombie waiting to be reaped counts as gone)."""
    from pathlib import Path

    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
