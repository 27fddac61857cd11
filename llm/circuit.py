"""One circuit: a role, its backend, its state, its queue and its deadline.

A backend is not thread-safe, so each circuit owns one worker thread that runs
its jobs one at a time from a bounded queue; different circuits run at the same
time. Callers on the event loop receive the chunks as they are generated.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import CircuitBusy
from llm.backend import Backend, Generation

log = logging.getLogger(__name__)

DeltaHook = Callable[[str, str], Awaitable[None]]
STATES = ("pending", "loading", "ready", "failed")


@dataclass
class CircuitResult:
    """What one circuit answered for one request."""

    text: str
    status: str  # ok, error, timeout, unavailable
    ms: int = 0
    tokens: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The circuit's entry in the response document."""
        doc: dict[str, Any] = {
            "text": self.text,
            "status": self.status,
            "ms": self.ms,
            "tokens": self.tokens,
        }
        if self.error:
            doc["error"] = self.error
        return doc


@dataclass
class _Job:
    gen: Generation
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)

    def deliver(self, kind: str, payload: str = "") -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, payload))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.gen.cancel.set()


class Ticket:
    """A job placed in a circuit's queue; `result()` collects it."""

    def __init__(self, circuit: Circuit, job: _Job, timeout_s: float) -> None:
        self.circuit = circuit
        self._job = job
        self._started = time.monotonic()
        self._deadline = self._started + timeout_s

    def cancel(self) -> None:
        """Stop the job at its next token (or before it starts)."""
        self._job.gen.cancel.set()

    async def result(self, on_delta: DeltaHook | None = None) -> CircuitResult:
        """Wait for the whole answer, forwarding each chunk to `on_delta`."""
        parts: list[str] = []
        status, error = "ok", None
        try:
            async with asyncio.timeout_at(self._loop_deadline()):
                while True:
                    kind, payload = await self._job.events.get()
                    if kind == "delta":
                        parts.append(payload)
                        if on_delta is not None:
                            await on_delta(self.circuit.name, payload)
                    elif kind == "error":
                        status, error = "error", payload
                        break
                    else:
                        break
        except TimeoutError:
            status = "timeout"
            error = f"no answer within {self.circuit.timeout_s:g} s / 제한 시간 초과"
        finally:
            self.cancel()
        ms = int((time.monotonic() - self._started) * 1000)
        return CircuitResult("".join(parts).strip(), status, ms, len(parts), error)

    def _loop_deadline(self) -> float:
        loop = asyncio.get_running_loop()
        return loop.time() + max(0.0, self._deadline - time.monotonic())


class Circuit:
    """A named role served by one backend."""

    def __init__(
        self,
        name: str,
        persona: str,
        backend_factory: Callable[[], Backend],
        *,
        queue_size: int = 8,
        timeout_s: float = 120.0,
    ) -> None:
        self.name = name
        self.persona = persona
        self.timeout_s = timeout_s
        self._factory = backend_factory
        self._backend: Backend | None = None
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._busy = threading.Event()
        self._worker: threading.Thread | None = None
        self.state = "pending"
        self.error: str | None = None
        self.load_s: float | None = None
        self._guard = threading.Lock()  # load and close see one consistent state
        self._closed = False
        self._current: _Job | None = None

    @property
    def ready(self) -> bool:
        """True once the backend is loaded and the worker runs."""
        return self.state == "ready"

    @property
    def backend(self) -> Backend | None:
        """The loaded backend (None until ready)."""
        return self._backend

    @property
    def queue_depth(self) -> int:
        """Jobs waiting plus the one running."""
        return self._jobs.qsize() + (1 if self._busy.is_set() else 0)

    def load(self) -> None:
        """Build and load the backend, then start the worker; never raises."""
        with self._guard:
            if self._closed:
                return
            self.state = "loading"
        started = time.monotonic()
        try:
            backend = self._factory()
            backend.load()
        except Exception as exc:
            self.error = str(exc) or type(exc).__name__
            self.state = "failed"
            log.warning("circuit %s failed to load: %s", self.name, self.error)
            return
        with self._guard:
            if self._closed:  # shut down while loading: nobody will use it
                backend.close()
                self.state = "pending"
                return
            self._backend = backend
            self.load_s = time.monotonic() - started
            self._worker = threading.Thread(
                target=self._work, name=f"circuit-{self.name}", daemon=True
            )
            self._worker.start()
            self.state = "ready"
        log.info("circuit %s ready (%s) in %.2f s", self.name, backend.describe(), self.load_s)

    def start_loading(self) -> threading.Thread:
        """Load in a background thread."""
        thread = threading.Thread(target=self.load, name=f"load-{self.name}", daemon=True)
        thread.start()
        return thread

    def open(self, gen: Generation) -> Ticket:
        """Queue a generation; raise CircuitBusy when the queue is full."""
        job = _Job(gen, asyncio.get_running_loop())
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise CircuitBusy(
                f"circuit {self.name} is busy ({self._jobs.maxsize} requests waiting); "
                "retry in a few seconds",
                f"{self.name} 회로가 바쁩니다. 잠시 후 다시 시도하세요.",
                retry_after=5,
            ) from None
        return Ticket(self, job, self.timeout_s)

    def snapshot(self) -> dict[str, Any]:
        """State for /ready: state, error, backend."""
        doc: dict[str, Any] = {"state": self.state, "error": self.error}
        if self._backend is not None:
            doc["backend"] = self._backend.describe()
        return doc

    def close(self) -> None:
        """Stop the worker (cancelling what runs and waits) and free the backend."""
        with self._guard:
            self._closed = True
            worker, backend = self._worker, self._backend
            self._worker, self._backend = None, None
        if worker is not None:
            current = self._current
            if current is not None:
                current.gen.cancel.set()
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job.gen.cancel.set()
            self._jobs.put(None)
            worker.join(timeout=30)
        if backend is not None:
            backend.close()
        if self.state == "ready":
            self.state = "pending"

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job.gen.cancel.is_set():
                continue
            self._busy.set()
            self._current = job
            backend = self._backend
            try:
                if backend is None:
                    raise RuntimeError("circuit is closed")
                for chunk in backend.stream(job.gen):
                    job.deliver("delta", chunk)
                    if job.gen.cancel.is_set():
                        break
                job.deliver("done")
            except Exception as exc:
                log.warning("circuit %s failed a request: %s", self.name, exc)
                job.deliver("error", str(exc) or type(exc).__name__)
            finally:
                self._current = None
                self._busy.clear()
