"""The training child: its output reaches the callback; stop is SIGINT, and it may save first."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from dashboard.training import TrainingChild

# Stands in for `echo-brain train` only to prove the signal plumbing; the real run is in
# test_window_training.py.
CHILD = """
import signal, sys, time
def stop(*_):
    print("checkpoint saved", flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, stop)
print("step 1", flush=True)
while True:
    time.sleep(0.05)
"""


def test_stop_sends_sigint_and_the_child_saves_before_exiting(tmp_path: Path) -> None:
    lines: list[str] = []
    got_step = threading.Event()

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "step 1":
            got_step.set()

    child = TrainingChild([sys.executable, "-c", CHILD], on_line, cwd=tmp_path)
    assert got_step.wait(20) and child.running
    child.stop()
    assert child.proc.wait(20) == 0
    child.close()
    assert lines == ["step 1", "checkpoint saved"]


def test_close_kills_a_child_that_ignores_sigint(tmp_path: Path) -> None:
    stubborn = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)"
    child = TrainingChild([sys.executable, "-c", stubborn], lambda _line: None, cwd=tmp_path)
    time.sleep(0.5)
    started = time.monotonic()
    code = child.close(timeout=1.0)
    assert code is not None and code < 0 and not child.running  # SIGTERM ended it
    assert time.monotonic() - started < 15
