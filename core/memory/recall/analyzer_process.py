"""Kiwi in a child process, for the server's prompts.

Loading Kiwi holds the GIL for a second or more (several on a loaded machine): in the
server that would stall every request. So a server analyses prompts in this child: one
JSON string per line in, one JSON list of terms per line out. Until the child has
loaded (or after it died, until it is back) `terms()` returns [] and recall answers
from the other paths.

Run as `python -m core.memory.recall.analyzer_process` (the server does it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from typing import IO

log = logging.getLogger(__name__)

READY = "READY"
RESTART_AFTER_S = 5.0
ANSWER_TIMEOUT_S = 3.0  # a prompt's terms take milliseconds; a child this late is stuck
LOAD_TIMEOUT_S = 600.0
LOAD_NICE = 10  # Kiwi loads at this niceness


class AnalyzerProcess:
    """The server's handle on the analyzer child; thread-safe."""

    def __init__(
        self, command: list[str] | None = None, timeout_s: float = ANSWER_TIMEOUT_S
    ) -> None:
        """`command`: the child to run (a stand-in in tests); `timeout_s`: per answer."""
        self.command = command or [sys.executable, "-m", "core.memory.recall.analyzer_process"]
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._failed_at = 0.0

    def start(self) -> None:
        """Start the child (returns at once; it is ready once Kiwi has loaded)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        self._ready.clear()
        self._proc = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        threading.Thread(target=self._await_ready, args=(self._proc,), daemon=True).start()

    def _await_ready(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with contextlib.suppress(OSError, EOFError, TimeoutError, ValueError):
            line = _read_line(proc.stdout.fileno(), time.monotonic() + LOAD_TIMEOUT_S)
            if line.strip() == READY.encode() and proc is self._proc:
                self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the child has loaded Kiwi (for tests and warm-up)."""
        return self._ready.wait(timeout)

    def terms(self, text: str) -> list[str]:
        """The index terms of a prompt ([] while the child is not ready)."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                self._restart_later()
                return []
            if not self._ready.is_set():
                return []
            try:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write((json.dumps(text) + "\n").encode())
                proc.stdin.flush()
                deadline = time.monotonic() + self.timeout_s
                found = json.loads(_read_line(proc.stdout.fileno(), deadline))
            except (OSError, ValueError, EOFError, TimeoutError) as exc:
                log.warning("the analyzer process failed (%s); restarting it",
                            type(exc).__name__)
                self._stop_locked(kill=True)
                self._failed_at = time.monotonic()
                return []
        return [str(t) for t in found] if isinstance(found, list) else []

    def _restart_later(self) -> None:
        if self._proc is not None:
            self._stop_locked()
            self._failed_at = time.monotonic()
        if time.monotonic() - self._failed_at >= RESTART_AFTER_S:
            self._start_locked()

    def stop(self) -> None:
        """Stop the child."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        self._ready.clear()
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        if proc.poll() is None:
            proc.kill() if kill else proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_line(fd: int, deadline: float) -> bytes:
    """One line from a pipe, read unbuffered: TimeoutError past the deadline, EOFError at
    the end (the child's answers are one line per question, so nothing is read ahead)."""
    data = bytearray()
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("no answer in time")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError("the child closed its output")
        data += chunk
    return bytes(data)


def serve(source: IO[str], sink: IO[str]) -> None:
    """The child's loop: a JSON string in, its terms out, until stdin closes."""
    from core.memory.recall.terms import Analyzer

    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(OSError):  # load Kiwi (seconds of CPU) behind the answers…
        os.setpriority(os.PRIO_PROCESS, 0, max(before, LOAD_NICE))
    analyzer = Analyzer()
    with contextlib.suppress(OSError):  # …and answer prompts at the server's priority (root)
        os.setpriority(os.PRIO_PROCESS, 0, before)
    sink.write(READY + "\n")
    sink.flush()
    for line in source:
        try:
            text = json.loads(line)
            terms = analyzer.terms(text) if isinstance(text, str) else []
        except ValueError:
            terms = []
        sink.write(json.dumps(terms) + "\n")  # ASCII whatever the locale
        sink.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
