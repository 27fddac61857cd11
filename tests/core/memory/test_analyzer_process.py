"""The Kiwi child's handle: a stuck child is killed after a timeout and started again."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from core.memory.recall import analyzer_process
from core.memory.recall.analyzer_process import AnalyzerProcess

# A stand-in child: answers like the real one, but hangs on the prompt 'stall'.
CHILD = """
import json, sys, time
print("READY", flush=True)
for line in sys.stdin:
    text = json.loads(line)
    if text == "stall":
        time.sleep(3600)
    print(json.dumps(text.split()), flush=True)
"""


def test_a_stuck_child_costs_one_timeout_and_is_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analyzer_process, "RESTART_AFTER_S", 0.0)
    child = AnalyzerProcess([sys.executable, "-c", CHILD], timeout_s=0.5)
    child.start()
    try:
        assert child.wait_ready(30)
        assert child.terms("blue safe") == ["blue", "safe"]
        first = child._proc
        done: list[list[str]] = []
        worker = threading.Thread(target=lambda: done.append(child.terms("stall")), daemon=True)
        began = time.monotonic()
        worker.start()
        worker.join(10)
        assert done == [[]] and time.monotonic() - began < 5  # not stuck with the lock held
        assert first is not None and first.poll() is not None  # the stuck child is gone
        assert child.terms("again") == []  # restarting: recall uses the other paths meanwhile
        assert child.wait_ready(30)
        assert child.terms("blue safe again") == ["blue", "safe", "again"]
        assert child._proc is not first
    finally:
        child.stop()
