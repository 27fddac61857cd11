"""One circuit: a role, its backend, its state, its queue and its deadline.

A backend is not thread-safe, so each circuit owns one worker thread that runs
its jobs one at a time from a bounded queue; different circuits run at the same
time. Callers on the event loop receive the chunks as they are generated.

A backend whose worker process dies (`WorkerDied`) costs only this circuit: the request
it was serving ends `error` with the reason, and the circuit restarts the worker: at once
after a first death (one the idle circuit notices too, within 0.1 s), then with backoff
(1 s, 2 s, 4 s … capped) while it keeps dying; after `max_tries` failures in a row it stays
`failed`.
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

from llm.backend import Backend, Generation, QueueFull, WorkerDied

log = logging.getLogger(__name__)

DeltaHook = Callable[[str, str], Awaitable[None]]
STATES = ("pending", "loading", "ready", "failed")
MAX_TRIES = 5
MAX_BACKOFF_S = 30.0
WATCH_S = 0.1  # how often an idle circuit checks that its worker lives


@dataclass
class CircuitResult:
    """What one circuit answered for one request."""

    text: str
    status: str  # ok, error, timeout, unavailable
    ms: int = 0
    tokens: int = 0
    error: str | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The circuit's entry in the response document."""
        doc: dict[str, Any] = {
            "text": self.text,
            "status": self.status,
            "ms": self.ms,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
        }
        if self.error:
            doc["error"] = self.error
        return doc


@dataclass
class _Job:
    gen: Generation
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)

    def deliver(self, kind: str, payload: Any = "") -> None:
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
        usage = self._job.gen.usage
        return CircuitResult(
            "".join(parts).strip(),
            status,
            ms,
            usage.get("completion_tokens", len(parts)),
            error,
            usage.get("prompt_tokens", 0),
            usage.get("cached_tokens", 0),
        )

    def _loop_deadline(self) -> float:
        loop = asyncio.get_running_loop()
        return loop.time() + max(0.0, self._deadline - time.monotonic())


class Circuit:
    """A named role served by one backend, supervised: a dead worker is restarted."""

    def __init__(
        self,
        name: str,
        persona: str,
        backend_factory: Callable[[], Backend],
        *,
        queue_size: int = 8,
        timeout_s: float = 120.0,
        backoff_s: float = 1.0,
        max_tries: int = MAX_TRIES,
        adapter: dict[str, Any] | None = None,
        origin_only: bool = False,
    ) -> None:
        self.name = name
        self.adapter = adapter  # the configured LoRA adapter (file, scale), shown in /ready
        self._origin_only = origin_only  # set so (ECHO_<CIRCUIT>_ORIGIN_ONLY); or its GGUF says
        self.persona = persona
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.max_tries = max_tries
        self._factory = backend_factory
        self._backend: Backend | None = None
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._busy = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.state = "pending"
        self.error: str | None = None
        self.load_s: float | None = None
        self.restarts = 0
        self.last_exit: str | None = None
        self._streak = 0  # worker deaths since the last answer that completed
        self._guard = threading.Lock()  # load and close see one consistent state
        self._closed = False
        self._current: _Job | None = None

    @property
    def ready(self) -> bool:
        """True once the backend is loaded and the worker runs."""
        return self.state == "ready"

    @property
    def origin_only(self) -> bool:
        """Answers the origin only: so configured, or its model learned from the memory."""
        return self._origin_only

    def serves(self, is_origin: bool) -> bool:
        """Whether this circuit may answer a caller (the origin, or anyone else)."""
        return is_origin or not self._origin_only

    @property
    def backend(self) -> Backend | None:
        """The loaded backend (None until ready)."""
        return self._backend

    @property
    def queue_depth(self) -> int:
        """Jobs waiting plus the one running."""
        return self._jobs.qsize() + (1 if self._busy.is_set() else 0)

    def load(self) -> None:
        """Build and load the backend, then start the worker thread; never raises."""
        if self._start_backend(failures=0):
            with self._guard:
                if self._closed:
                    return
                self._worker = threading.Thread(
                    target=self._work, name=f"circuit-{self.name}", daemon=True
                )
                self._worker.start()

    def _start_backend(self, failures: int) -> bool:
        """Load a backend, retrying a dead worker with backoff; False once failed or closed."""
        while True:
            with self._guard:
                if self._closed:
                    return False
                self.state = "loading"
            started = time.monotonic()
            try:
                backend = self._factory()
                backend.load()
            except WorkerDied as exc:
                failures += 1
                self._streak = failures
                self.last_exit = exc.reason
                if failures >= self.max_tries:
                    self._fail(f"worker died {failures} times in a row, last: {exc.reason}")
                    return False
                self.restarts += 1
                if self._stop.wait(self._backoff(failures)):
                    return False
                continue
            except Exception as exc:
                self._fail(str(exc) or type(exc).__name__)
                return False
            return self._adopt(backend, time.monotonic() - started)

    def _adopt(self, backend: Backend, load_s: float) -> bool:
        with self._guard:
            if self._closed:  # shut down while loading: nobody will use it
                backend.close()
                self.state = "pending"
                return False
            self._backend = backend
            self._origin_only = self._origin_only or backend.trained_on_memory
            self.load_s = load_s
            self.error = None
            self.state = "ready"
        log.info("circuit %s ready (%s) in %.2f s", self.name, backend.describe(), load_s)
        return True

    def _fail(self, reason: str) -> None:
        self.error = reason
        self.state = "failed"
        log.warning("circuit %s failed: %s", self.name, reason)

    def _backoff(self, failures: int) -> float:
        return float(min(self.backoff_s * 2 ** (failures - 1), MAX_BACKOFF_S))

    def start_loading(self) -> threading.Thread:
        """Load in a background thread."""
        thread = threading.Thread(target=self.load, name=f"load-{self.name}", daemon=True)
        thread.start()
        return thread

    def open(self, gen: Generation) -> Ticket:
        """Queue a generation; raise QueueFull when the queue is full."""
        job = _Job(gen, asyncio.get_running_loop())
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull(self.name, self._jobs.maxsize) from None
        return Ticket(self, job, self.timeout_s)

    def snapshot(self) -> dict[str, Any]:
        """State for /ready: state, error, backend, worker pid, restarts, last exit, warm-up."""
        backend = self._backend
        doc: dict[str, Any] = {
            "state": self.state,
            "error": self.error,
            "pid": backend.pid if backend is not None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "warmup_s": _rounded(backend.warmup_s if backend is not None else None),
            "load_s": _rounded(self.load_s),
        }
        if self.origin_only:
            doc["origin_only"] = True
        if backend is not None:
            doc["backend"] = backend.describe()
            if backend.prefix is not None:
                doc["prefix"] = backend.prefix
        adapter = backend.adapter if backend is not None else None
        if adapter is not None or self.adapter is not None:
            doc["adapter"] = adapter or self.adapter
        return doc

    def close(self) -> None:
        """Stop the worker (cancelling what runs and waits) and free the backend."""
        with self._guard:
            self._closed = True
            worker = self._worker
            self._worker = None
        self._stop.set()
        current = self._current
        if current is not None:
            current.gen.cancel.set()
        self._drain("circuit is shutting down / 회로가 종료 중입니다")
        if worker is not None:
            self._jobs.put(None)
            worker.join(timeout=30)
        with self._guard:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()
        if self.state in ("ready", "loading"):
            self.state = "pending"

    def _drain(self, reason: str) -> None:
        """End every waiting job with `reason`."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.gen.cancel.set()
                job.deliver("error", reason)

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=WATCH_S)
            except queue.Empty:
                self._watch_idle()
                continue
            if job is None:
                return
            if job.gen.cancel.is_set():
                continue
            self._busy.set()
            self._current = job
            try:
                self._run(job)
            finally:
                self._current = None
                self._busy.clear()

    def _run(self, job: _Job) -> None:
        backend = self._backend
        try:
            if backend is None:
                raise RuntimeError(self.error or f"circuit is {self.state}")
            for chunk in backend.stream(job.gen):
                job.deliver("delta", chunk)
                if job.gen.cancel.is_set():
                    break
            job.deliver("done")
            self._streak = 0
        except WorkerDied as exc:
            self._mark_dead(exc.reason)
            job.deliver("error", str(exc))
            self._restart()
        except Exception as exc:
            log.warning("circuit %s failed a request: %s", self.name, exc)
            job.deliver("error", str(exc) or type(exc).__name__)

    def _watch_idle(self) -> None:
        """A worker that died between requests (kill -9, OOM killer) is restarted at once."""
        backend = self._backend
        reason = backend.exit_reason() if backend is not None else None
        if reason is None or self._closed or backend is None:
            return
        self._mark_dead(reason)
        backend.close()
        self._restart()

    def _mark_dead(self, reason: str) -> None:
        with self._guard:
            self._backend = None
            self.state = "loading"
        self.last_exit = reason
        self._streak += 1
        log.warning("circuit %s: worker died (%s); restarting", self.name, reason)

    def _restart(self) -> None:
        """The worker died: start a new one (on this thread), at once the first time in a row."""
        if self._streak >= self.max_tries:  # it loads, then dies under every request
            self._fail(f"worker died {self._streak} times in a row, last: {self.last_exit}")
            self._drain(self.error or "circuit failed / 회로 실패")
            return
        self.restarts += 1
        delay = self._backoff(self._streak - 1) if self._streak > 1 else 0.0
        if self._stop.wait(delay):
            return
        if not self._start_backend(failures=self._streak):
            self._drain(self.error or "circuit failed / 회로 실패")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
