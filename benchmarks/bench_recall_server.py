"""The recall benchmark's server half: peak RSS and `/api/ask` p50 of a real `echo-brain serve`.

- Peak RSS: the server (uvicorn, three demo circuits, e5 for prompts, the vectors'
  HNSW graph) and its children (the Kiwi analyzer, the indexer), VmHWM of each from /proc,
  after origin requests that recall.
- `/api/ask` p50 while the background indexer embeds vs with the indexer off, on the same
  archive and prompts, each server warmed by a few untimed asks.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import DEMO_MODEL
from benchmarks.harness import REPO, Server, run_server

TOKEN = "bench-origin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASK_TOKENS = 32  # each answer of the ask-latency runs, greedy


def _env(memory: Path, **extra: str) -> dict[str, str]:
    return {"ECHO_MEMORY_DIR": str(memory), "ECHO_ORIGIN_TOKEN": TOKEN,
            "ECHO_MANIFEST_DIR": str(REPO / "manifest"),
            "ECHO_MODELS_DIR": str(DEMO_MODEL.parent), **extra}


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found + [c for child in found for c in _children(child)]


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def tree_peak_rss(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) in MiB of a process and each of its live children."""
    out: dict[str, float] = {}
    for each in [pid, *_children(pid)]:
        status = _status(each)
        if "VmHWM" in status:
            cmd = Path(f"/proc/{each}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            name = "server" if each == pid else _label(cmd, each)
            out[name] = int(status["VmHWM"].split()[0]) / 1024
    return out


def _label(cmd: str, pid: int) -> str:
    for word in ("indexer", "analyzer"):
        if word in cmd:
            return word
    return f"child {pid}"


def wait_recall(server: Server, timeout: float = 900.0) -> dict[str, Any]:
    """Wait until the server's recall models are loaded (its /ready `recall` state)."""
    deadline = time.monotonic() + timeout
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        doc = httpx.get(server.url + "/ready", timeout=10).json().get("recall", {})
        if doc.get("state") not in (None, "waiting", "loading"):
            return doc
        time.sleep(0.5)
    raise RuntimeError(f"recall not loaded after {timeout} s: {doc}")


def ask(client: httpx.Client, prompt: str) -> tuple[float, int]:
    """One origin /api/ask: seconds taken and how many remembered lines it used."""
    began = time.perf_counter()
    response = client.post("/api/ask", json={"prompt": prompt}, headers=AUTH)
    took = time.perf_counter() - began
    response.raise_for_status()
    return took, len((response.json().get("memory") or {}).get("context") or [])


def peak_rss(memory: Path, work: Path, prompts: list[str]) -> dict[str, Any]:
    """Peak RSS of a server over `memory` (already enriched) after origin asks and recalls."""
    with run_server(work, start_timeout=120, **_env(memory)) as server:  # type: ignore[arg-type]
        server.wait_ready(timeout=900)
        recall = wait_recall(server)
        with server.client(timeout=300) as client:
            used = [ask(client, prompt)[1] for prompt in prompts[:4]]
            for prompt in prompts[4:8]:
                client.get("/api/memory/recall", params={"q": prompt, "k": 10},
                           headers=AUTH).raise_for_status()
        rss = tree_peak_rss(server.proc.pid)
    return {"rss_mib": rss, "total_mib": sum(rss.values()), "recall": recall,
            "context_lines": used}


def ask_latency(memory: Path, work: Path, prompts: list[str], busy: bool,
                extra: Path | None = None) -> dict[str, Any]:
    """p50 of origin asks over a copy of `memory` (enriched), the indexer on.

    Both copies keep the recall database, so a prompt recalls the same lines and the
    prompts the circuits get are alike. Idle: the indexer has nothing to do. Busy: `extra`
    (part files of another archive) is added as a new day, so the indexer embeds its lines
    while we ask.
    """
    copy = work / ("busy" if busy else "idle") / "memory"
    shutil.rmtree(copy.parent, ignore_errors=True)
    shutil.copytree(memory, copy, ignore=shutil.ignore_patterns(".echo_recall.lock"))
    if busy:
        if extra is None:
            raise ValueError("a busy run needs extra lines for the indexer")
        day = copy / "day1231" / "user"
        day.mkdir(parents=True)
        for number, part in enumerate(sorted(extra.glob("day*/**/part*.txt")), start=1):
            shutil.copyfile(part, day / f"part{number}.txt")
    # Greedy answers of a fixed length: the two runs then differ by the indexer alone, not by
    # how long each sampled answer happened to run.
    fixed = {"ECHO_TEMPERATURE": "0", "ECHO_MAX_TOKENS": str(ASK_TOKENS)}
    with run_server(copy.parent, start_timeout=120, **_env(copy, **fixed)) as server:  # type: ignore[arg-type]
        server.wait_ready(timeout=900)
        wait_recall(server)
        times = []
        with server.client(timeout=300) as client:
            for prompt in prompts[:3]:
                ask(client, prompt)
            for prompt in prompts[3:]:
                times.append(ask(client, prompt)[0])
        state = httpx.get(server.url + "/ready", timeout=10).json().get("recall", {})
    return {"p50_s": statistics.median(times), "asks": len(times), "recall_after": state,
            "max_tokens": ASK_TOKENS}
