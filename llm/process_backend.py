"""The server's side of a circuit worker process (`llm.worker`).

The model runs in a child process; this backend starts it, sends it requests and yields
the tokens it streams back. The circuit in the server keeps the queue, the deadline,
cancellation and the state. When the child dies, `load` and `stream` raise `WorkerDied`
with the reason (the signal's name or the exit code).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

from llm.backend import Backend, BackendError, Generation, WorkerDied
from llm.config import LlamaConfig

log = logging.getLogger(__name__)

POLL_S = 0.05
STOP_GRACE_S = 3.0
STOPPED = "the worker was stopped / 회로 프로세스가 멈췄습니다"
SOURCE_ROOT = str(Path(__file__).resolve().parent.parent)


def exit_reason(returncode: int | None) -> str:
    """`SIGSEGV`, `SIGKILL`, `exit code 3`… for a finished process."""
    if returncode is None:
        return "connection lost"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class ProcessBackend(Backend):
    """A llama.cpp model in its own process; tokens stream back over a socketpair."""

    kind: ClassVar[str] = "llama"
    supports_json_schema: ClassVar[bool] = True

    def __init__(self, config: LlamaConfig, *, python: str | None = None) -> None:
        self.config = config
        self.python = python or sys.executable
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._warmup_s: float | None = None
        self._adapter: dict[str, Any] | None = None
        self._prefix: dict[str, Any] | None = None
        self._trained_on_memory = False
        self._vocab: Vocab | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def warmup_s(self) -> float | None:
        """Seconds the worker spent warming its static prefixes."""
        return self._warmup_s

    @property
    def adapter(self) -> dict[str, Any] | None:
        """The LoRA adapter the worker applied (its check's document)."""
        return self._adapter

    @property
    def prefix(self) -> dict[str, Any] | None:
        """The worker's report on its prefixes: restored from the disk cache or computed."""
        return self._prefix

    @property
    def trained_on_memory(self) -> bool:
        """The worker found `echo_brain.trained_on_memory` in the GGUF: the origin's only."""
        return self._trained_on_memory

    def load(self) -> None:
        """Start the worker and wait until its model is loaded and warm."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (SOURCE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                [self.python, "-m", "llm.worker", str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise BackendError(f"cannot start the worker process: {exc}") from exc
        finally:
            theirs.close()
        self._conn = Connection(os.dup(ours.fileno()))
        ours.close()
        self._send(("load", self.config))
        self._vocab = shared_vocab(self.config.model_path)  # while the worker loads
        try:
            kind, payload = self._receive(deadline=None)
        except BaseException:
            self.close()
            raise
        if kind == "error":
            self.close()
            raise BackendError(str(payload))
        self._warmup_s = payload.get("warmup_s")
        self._adapter = payload.get("adapter")
        self._prefix = payload.get("prefix")
        self._trained_on_memory = bool(payload.get("trained_on_memory"))

    def exit_reason(self) -> str | None:
        """`SIGKILL`, `exit code 3`… once the worker has ended; None while it runs."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return None
        self._drop_connection()
        self._proc = None
        return exit_reason(proc.returncode)

    def count_tokens(self, text: str) -> int | None:
        """Exact token count with the model's own vocabulary (loaded here, weights not)."""
        if self._vocab is None:
            return None
        return self._vocab.count(text)

    def stream(self, gen: Generation) -> Iterator[str]:
        """Send the request; yield the worker's chunks; cancel it at the next token."""
        if self._conn is None:
            raise BackendError("model is not loaded")
        self._send(("generate", gen.to_wire()))
        cancel_sent = False
        while True:
            if gen.cancel.is_set() and not cancel_sent:
                self._send(("cancel",))
                cancel_sent = True
            kind, payload = self._receive(deadline=time.monotonic() + POLL_S, idle_ok=True)
            if kind == "idle":
                continue
            if kind == "delta":
                yield payload
            elif kind == "done":
                gen.usage.update(payload)
                return
            elif kind == "error":
                raise BackendError(str(payload))

    def _send(self, message: tuple[Any, ...]) -> None:
        conn = self._conn
        if conn is None:
            raise BackendError(STOPPED)
        try:
            conn.send(message)
        except (BrokenPipeError, ConnectionError, OSError, ValueError):
            raise self._died() from None

    def _receive(self, deadline: float | None, idle_ok: bool = False) -> tuple[str, Any]:
        """The next message; ("idle", None) at the deadline when `idle_ok`."""
        while True:
            conn = self._conn
            if conn is None:
                raise BackendError(STOPPED)
            wait = POLL_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                if conn.poll(wait):
                    kind, *rest = conn.recv()
                    return kind, (rest[0] if rest else None)
            except (EOFError, OSError, ValueError):
                if self._conn is None:  # closed by close() on another thread
                    raise BackendError(STOPPED) from None
                raise self._died() from None
            if self._proc is not None and self._proc.poll() is not None:
                raise self._died()
            if idle_ok and deadline is not None and time.monotonic() >= deadline:
                return "idle", None

    def _died(self) -> WorkerDied:
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        self._drop_connection()
        self._proc = None
        reason = exit_reason(code)
        log.warning("worker of %s died: %s", self.describe(), reason)
        return WorkerDied(reason)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Ask the worker to stop; terminate, then kill it if it does not."""
        proc, self._proc = self._proc, None
        self._vocab = None  # shared with the other circuits on the same file: kept
        if self._conn is not None:
            try:
                self._conn.send(("stop",))
            except (OSError, ValueError):
                pass
        self._drop_connection()
        if proc is None:
            return
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def describe(self) -> str:
        """The model's file name (never a full secret-bearing path), and its adapter's."""
        lora = f"+lora:{Path(self.config.lora_path).name}" if self.config.lora_path else ""
        return f"llama:{Path(self.config.model_path).name}{lora}"


class Vocab:
    """A model's tokenizer alone (`vocab_only`: no weights, no compute), for counting."""

    def __init__(self, llama: Any) -> None:
        self._llama = llama
        self._lock = threading.Lock()

    def close(self) -> None:
        """Free the tokenizer."""
        with self._lock:
            self._llama.close()

    def count(self, text: str) -> int:
        """Tokens of `text` as the model counts them (no BOS)."""
        with self._lock:
            return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))


_VOCABS: dict[tuple[str, int, int], Vocab | None] = {}
_VOCABS_LOCK = threading.Lock()


def shared_vocab(path: str) -> Vocab | None:
    """One tokenizer per model file for the whole server (three circuits on one file load it
    once, a restarted worker not again); None when it cannot load (counts fall back)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _VOCABS_LOCK:
        if key not in _VOCABS:
            _VOCABS[key] = _load_vocab(path)
        return _VOCABS[key]


@atexit.register
def _close_vocabs() -> None:
    """Free the tokenizers while llama_cpp still exists (its finalizers fail at shutdown)."""
    with _VOCABS_LOCK:
        for vocab in _VOCABS.values():
            if vocab is not None:
                vocab.close()
        _VOCABS.clear()


def _load_vocab(path: str) -> Vocab | None:
    try:
        from llama_cpp import Llama

        return Vocab(Llama(model_path=path, vocab_only=True, verbose=False))
    except Exception as exc:  # counting falls back to the estimate
        log.warning("no tokenizer for %s: %s", Path(path).name, exc)
        return None
