"""Instant restarts (part of bench_warm): the prefix cache on disk, measured as a person meets it.

Three demo circuits, the shipped manifests, a small archive (its index built beforehand, so
the launches differ by the prefix cache alone):
  1. launch → /ready with an empty cache (cold) and with the cache from that run (warm);
  2. the first /api/ask after a warm start vs the second (new prompts, same length);
  3. restore vs recompute of one prefix (the self circuit's), in one process, as the worker
     does it;
  4. `kill -9` of a worker → its circuit ready again (backoff included).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import DEMO_MODEL, REPO
from benchmarks.harness import run_server

# The first answer after a warm start, then the next ones. Each begins with another word, so
# every answer reuses only what a new conversation would: the restored prefix and the chat
# template's turn header. (Two prompts sharing "Tell me a long story about" let the second
# reuse six more of the first's tokens, a prompt effect rather than a warm-up cost.)
FIRST = "Tell me a long story about the sea and a lighthouse."
NEXT = ("Write a long story about a village in the mountains.",
        "Describe a long journey of a fox across the snowy north.")


def small_archive(work: Path, parts: int) -> Path:
    """`parts` generated parts of 395 lines in two day folders, its index already built."""
    import random

    from benchmarks.gen_archive import part_lines

    memory = work / "memory"
    rng = random.Random(7)
    for index in range(parts):
        folder = memory / f"day03{15 + index % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        text = "\n".join(part_lines(rng, 395)) + "\n"
        (folder / f"part{index // 2 + 1}.txt").write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "cli", "replay", "--memory-dir", str(memory),
                    "--manifest-dir", str(REPO / "manifest"), "--json"], check=True, cwd=REPO,
                   capture_output=True)
    return memory


def launch(stack: ExitStack, work: Path, env: dict[str, str]) -> tuple[float, Any, dict[str, Any]]:
    """(launch → /ready seconds, the server, the /ready document)."""
    started = time.perf_counter()
    server = stack.enter_context(run_server(work, start_timeout=120, **env))
    doc = server.wait_ready(timeout=900)
    return time.perf_counter() - started, server, doc


def ask(url: str, prompt: str) -> float:
    started = time.perf_counter()
    response = httpx.post(url + "/api/ask", json={"prompt": prompt}, timeout=600)
    response.raise_for_status()
    assert all(c["status"] == "ok" for c in response.json()["circuits"].values())
    return time.perf_counter() - started


def kill_to_ready(server: Any, circuit: str = "self") -> float:
    """SIGKILL the circuit's worker; seconds until the circuit is ready with a new one."""
    import os
    import signal

    pid = server.ready().json()["circuits"][circuit]["pid"]
    started = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    while True:
        doc = server.ready().json()["circuits"][circuit]
        if doc["state"] == "ready" and doc["pid"] not in (None, pid):
            return time.perf_counter() - started
        time.sleep(0.02)


def restore_vs_compute(cache: Path, n_ctx: int) -> dict[str, float]:
    """One prefix (the self circuit's), computed then restored, in this process."""
    from core.circuits import prefixes_for
    from core.identity import load_manifests
    from core.settings import load_settings
    from llm.config import LlamaConfig
    from llm.llama_backend import LlamaBackend

    texts = prefixes_for("self", load_settings(), load_manifests(REPO / "manifest"))
    result: dict[str, float] = {}
    for label in ("computed", "restored"):
        config = LlamaConfig(str(DEMO_MODEL), n_ctx=n_ctx, n_threads=2, n_threads_batch=2,
                             prefixes=texts, cache_dir=str(cache))
        backend = LlamaBackend(config)
        backend.load()
        report = backend.prefix or {}
        assert report.get("source") == label, report
        result[label] = float(report["s"])
        result["tokens"] = float(report["prefixes"][0]["tokens"])
        result["bytes"] = float(report["prefixes"][0]["bytes"])
        backend.close()
    return result


def measure(work: Path, env: dict[str, str], parts: int, warm_runs: int) -> dict[str, Any]:
    """Every figure of the restart table."""
    memory = small_archive(work, parts)
    cache = work / "prefix-cache"
    env = env | {"ECHO_MEMORY_DIR": str(memory), "ECHO_CACHE_DIR": str(cache),
                 "ECHO_ORIGIN_TOKEN": "bench-origin-token"}  # /ready shows pids to the origin
    out: dict[str, Any] = {"parts": parts}
    with ExitStack() as stack:
        out["cold_s"], _, cold_doc = launch(stack, work / "cold", env)
    out["cold_prefix"] = {n: c.get("prefix") for n, c in cold_doc["circuits"].items()}
    warm: list[float] = []
    firsts: list[float] = []
    nexts: list[float] = []
    for run in range(warm_runs):
        with ExitStack() as stack:
            seconds, server, doc = launch(stack, work / f"warm{run}", env)
            warm.append(seconds)
            firsts.append(ask(server.url, FIRST))  # at once after /ready, as a person would
            nexts.append(statistics.median(ask(server.url, p) for p in NEXT))
            if run == 0:
                out["warm_prefix"] = {n: c.get("prefix") for n, c in doc["circuits"].items()}
                out["restart_s"] = kill_to_ready(server)
    out["warm_runs"] = warm
    out["first_runs"], out["next_runs"] = firsts, nexts
    out["first_s"], out["second_s"] = statistics.median(firsts), statistics.median(nexts)
    out["warm_s"] = statistics.median(warm)
    shutil.rmtree(cache / "one", ignore_errors=True)
    out["one"] = restore_vs_compute(cache / "one", int(env["ECHO_N_CTX"]))
    return out


def table(r: dict[str, Any]) -> str:
    """The markdown rows of the restart figures."""
    def goal(ok: bool) -> str:
        return "met" if ok else "NOT met"

    ratio = r["cold_s"] / r["warm_s"]
    first = r["first_s"] / r["second_s"]
    one = r["one"]
    sources = {n: (p or {}).get("source") for n, p in r["warm_prefix"].items()}
    rows = [
        ("launch → `/ready`, empty prefix cache (cold)", f"{r['cold_s']:.1f} s", "—"),
        ("launch → `/ready`, cache present (warm), median of "
         f"{len(r['warm_runs'])}", f"**{r['warm_s']:.1f} s** "
         f"({', '.join(f'{w:.1f}' for w in r['warm_runs'])})",
         f"≤ 4 s: {goal(r['warm_s'] <= 4)}"),
        ("cold / warm", f"**{ratio:.1f}×**", f"≥ 3×: {goal(ratio >= 3)}"),
        (f"first `/api/ask` after a warm start / the next (medians over the {len(r['warm_runs'])}"
         " warm starts; the next = median of two)",
         f"{r['first_s']:.2f} s / {r['second_s']:.2f} s = **{first:.2f}** (each start: "
         + ", ".join(f"{a / b:.2f}"
                     for a, b in zip(r["first_runs"], r["next_runs"], strict=True)) + ")",
         f"≤ 1.2: {goal(first <= 1.2)}"),
        (f"one prefix ({one['tokens']:.0f} tokens, {one['bytes'] / 2**20:.1f} MiB): "
         "recompute vs restore", f"{one['computed']:.2f} s vs **{one['restored']:.3f} s**",
         "—"),
        ("`kill -9` of the self worker → ready again", f"**{r['restart_s']:.2f} s**",
         f"≤ 3 s: {goal(r['restart_s'] <= 3)}"),
        ("warm start: each circuit's prefix", str(sources), "restored"),
    ]
    head = ["| figure | value | goal |", "|---|---|---|"]
    return "\n".join(head + [f"| {a} | {b} | {c} |" for a, b, c in rows])
