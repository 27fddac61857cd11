"""The first answer as fast as the next: warm prefixes, measured as a person meets them.

The real demo model in all three circuits, the shipped manifests, a 300k-line archive
replayed (so every prompt carries its remembered lines), distinct prompts each time:
  1. the first /api/ask after /ready vs. the second (goal ≤ 1.2);
  2. p50 latency of /api/ask vs. the same three calls (same messages, same threads)
     straight through llama-cpp-python in three threads (goal ≤ 1.05);
  3. launch → /ready (warm-up included) with a cold and a warm index, next to the warm-up.
Also the thread choice: the raw three-thread fan-out with each (n_threads, n_threads_batch).
And instant restarts (`benchmarks/warm_restarts.py`): launch → /ready with and without the
prefix cache on disk, the first answer after a warm start, restore vs recompute of one
prefix, and a `kill -9` of a worker → ready again.

Run: .venv/bin/python -m benchmarks.bench_warm   (or `make bench` for every benchmark)
     .venv/bin/python -m benchmarks.bench_warm --only restarts   (the restart table alone)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import DEMO_MODEL, REPO, load_note, machine, write_section
from benchmarks.harness import run_server
from core.circuits import cpu_count
from core.context import build_messages
from core.identity import load_manifests
from core.memory.index import MemoryIndex
from core.settings import CIRCUIT_NAMES
from llm.personas import PERSONAS

PROMPTS = (  # each runs to MAX_TOKENS, so every answer decodes the same number of tokens
    "Tell me a long story about the sea and a lighthouse.",
    "Tell me a long story about a village in the mountains.",
    "바다와 등대에 대한 긴 이야기를 들려줘.",
    "Tell me a long story about a robot who learns to garden.",
    "Tell me a long story about rivers in spring.",
    "기억과 자아에 대한 긴 이야기를 해줘.",
    "Tell me a long story about a library on a rainy day.",
    "Tell me a long story about two friends building a boat.",
)
MAX_TOKENS = 24
N_CTX = 4096


def ask(url: str, prompt: str) -> tuple[float, dict[str, Any]]:
    """One /api/ask; (seconds, document)."""
    started = time.perf_counter()
    response = httpx.post(url + "/api/ask", json={"prompt": prompt}, timeout=600)
    response.raise_for_status()
    doc = response.json()
    assert all(c["status"] == "ok" for c in doc["circuits"].values()), doc
    return time.perf_counter() - started, doc


def launch_to_ready(stack: ExitStack, workdir: Path, env: dict[str, str]) -> tuple[float, Any]:
    """Start a server on `stack`; (seconds from launch to /ready 200, the server)."""
    started = time.perf_counter()
    server = stack.enter_context(run_server(workdir, start_timeout=120, **env))
    server.wait_ready(timeout=600)
    return time.perf_counter() - started, server


class Raw:
    """The three circuits' calls straight through llama-cpp-python, one Llama each."""

    def __init__(self, threads: int, batch: int, memory_dir: Path) -> None:
        from llama_cpp import Llama

        self.models = {
            n: Llama(str(DEMO_MODEL), n_ctx=N_CTX, n_threads=threads, n_threads_batch=batch,
                     verbose=False)
            for n in CIRCUIT_NAMES
        }
        self.index = MemoryIndex(memory_dir)
        self.manifests = load_manifests(REPO / "manifest")

    def messages(self, name: str, prompt: str) -> list[dict[str, str]]:
        """The messages the server builds for this circuit and prompt."""
        llama = self.models[name]
        return build_messages(
            PERSONAS[name], prompt, memory=self.index.context_for(prompt, 6),
            manifests=self.manifests, n_ctx=N_CTX, max_tokens=MAX_TOKENS,
            count=lambda t: len(llama.tokenize(t.encode(), add_bos=False, special=True)),
        )

    def fan_out(self, prompt: str) -> float:
        """The three calls in three threads; seconds."""
        calls = {n: self.messages(n, prompt) for n in CIRCUIT_NAMES}

        def one(name: str) -> None:
            for _ in self.models[name].create_chat_completion(
                messages=calls[name], max_tokens=MAX_TOKENS, temperature=0.0, stream=True
            ):
                pass

        workers = [threading.Thread(target=one, args=(n,)) for n in CIRCUIT_NAMES]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.perf_counter() - started

    def close(self) -> None:
        """Free the models and the index."""
        for llama in self.models.values():
            llama.close()
        self.index.close()


def thread_table(memory_dir: Path, threads_now: int) -> list[tuple[int, int, float, float]]:
    """Raw fan-out with each thread choice: (threads, batch, cold s, warm p50 s)."""
    rows = []
    for threads, batch in ((1, 1), (1, 2), (2, 2)):
        raw = Raw(threads, batch, memory_dir)
        cold = raw.fan_out(PROMPTS[0])
        warm = statistics.median(raw.fan_out(p) for p in PROMPTS[1:4])
        raw.close()
        rows.append((threads, batch, cold, warm))
    return rows


def main() -> None:
    """Measure, print and record the three figures and the thread table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", type=int, default=760, help="archive size (760 ≈ 300k lines)")
    parser.add_argument("--only", choices=("all", "prefixes", "restarts"), default="all")
    parser.add_argument("--restart-parts", type=int, default=10, help="the small archive")
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args()
    env = {"ECHO_MAX_TOKENS": str(MAX_TOKENS), "ECHO_N_CTX": str(N_CTX), "ECHO_TEMPERATURE": "0",
           "ECHO_MANIFEST_DIR": str(REPO / "manifest"), "ECHO_CONTEXT_LINES": "6",
           "ECHO_MODELS_DIR": str(DEMO_MODEL.parent)}
    if args.only in ("all", "restarts"):
        restarts(env, args.restart_parts, args.warm_runs)
    if args.only in ("all", "prefixes"):
        prefixes(env, args.parts)


def restarts(env: dict[str, str], parts: int, warm_runs: int) -> None:
    """The instant-restart table (benchmarks/warm_restarts.py)."""
    from benchmarks.warm_restarts import measure, table

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(Path(tmp), env, parts, warm_runs)
    print(figures, flush=True)
    write_section(
        "Instant restarts: prefix states on disk / 즉시 재시작: 디스크의 접두부 상태",
        f"""
Command: `.venv/bin/python -m benchmarks.bench_warm --only restarts --restart-parts {parts}
--warm-runs {warm_runs}`
Machine: {machine()}; {load_note(load)}.
Setup: SmolLM2-135M-Instruct Q4_1 in all three circuits (each in its worker process), the
shipped manifests, a {parts}-part archive indexed beforehand (`echo-brain replay`), n_ctx
{N_CTX}, `ECHO_MAX_TOKENS={MAX_TOKENS}`, greedy; the cache in a fresh `ECHO_CACHE_DIR`.

{table(figures)}

Cold: each worker evaluates its ~1,150-token prefix (persona + declarations) and writes it
to the cache; warm: each worker finds the file under its key (model fingerprint, tokens,
context, build) and loads it with `llama_state_seq_set_data`. The recall models (Kiwi in
its child, e5) load once the circuits are up, at niceness 10, so they do not delay `/ready`;
until then a prompt's memory comes from the trigram path. 캐시가 있으면 접두부를 다시
계산하지 않고 불러옵니다. 기억 검색 모델(Kiwi, e5)은 회로가 준비된 뒤 낮은 우선순위로
불러오므로 `/ready`를 늦추지 않습니다.
""")


def prefixes(env: dict[str, str], parts: int) -> None:
    """The warm-prefix figures and the thread table on the large archive."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        memory = work / "memory"
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "gen_archive.py"), str(memory),
                        "--parts", str(parts)], check=True, capture_output=True)
        env |= {"ECHO_MEMORY_DIR": str(memory)}
        with ExitStack() as stack:
            cold_s, server = launch_to_ready(stack, work, env)
            ready = httpx.get(server.url + "/ready").json()
            warmups = {n: c["warmup_s"] for n, c in ready["circuits"].items()}
            replay_s = ready["replay"].get("duration_s")
            first, doc = ask(server.url, PROMPTS[0])
            second, _ = ask(server.url, PROMPTS[1])
            served = [ask(server.url, p)[0] for p in PROMPTS[2:]]
            prompt_tokens = {n: c["prompt_tokens"] for n, c in doc["circuits"].items()}
        with ExitStack() as stack:
            warm_s, _ = launch_to_ready(stack, work, env)
        threads = max(1, cpu_count() // 3)
        raw = Raw(threads, threads, memory)
        raw.fan_out(PROMPTS[0])  # its cold prefix, as the server's warm-up did
        direct = [raw.fan_out(p) for p in PROMPTS[2:]]
        raw.close()
        table = thread_table(memory, threads)
    p50_server, p50_raw = statistics.median(served), statistics.median(direct)
    report(first, second, p50_server, p50_raw, cold_s, warm_s, warmups, replay_s,
           prompt_tokens, table, parts)


def report(first: float, second: float, p50_server: float, p50_raw: float, cold_s: float,
           warm_s: float, warmups: dict[str, Any], replay_s: Any,
           prompt_tokens: dict[str, int], table: list[tuple[int, int, float, float]],
           parts: int) -> None:
    """Print and write the BENCHMARKS.md section."""
    warm_max = max(float(w or 0) for w in warmups.values())
    print(f"first {first:.2f} s, second {second:.2f} s, ratio {first / second:.2f}; "
          f"p50 server {p50_server:.2f} s vs raw {p50_raw:.2f} s = {p50_server / p50_raw:.2f}; "
          f"ready cold {cold_s:.1f} s, warm {warm_s:.1f} s, warm-up {warm_max:.2f} s")
    r1 = f"{first:.2f} s / {second:.2f} s = **{first / second:.2f}**"
    r2 = f"{p50_server:.2f} s / {p50_raw:.2f} s = **{p50_server / p50_raw:.2f}**"
    rows = "\n".join(f"| {t} | {b} | {c:.2f} | {w:.2f} |" for t, b, c, w in table)
    write_section(
        "Warm prefixes: the first answer vs. the next",
        f"""
Command: `.venv/bin/python -m benchmarks.bench_warm --parts {parts}`
Machine: {machine()}
Setup: SmolLM2-135M-Instruct Q4_1 in all three circuits (each in its worker process),
the shipped manifests, a {parts}-part (~{parts * 395 // 1000}k-line) archive replayed,
`ECHO_CONTEXT_LINES=6`, `ECHO_MAX_TOKENS={MAX_TOKENS}`, n_ctx {N_CTX}, greedy, distinct
prompts each time. Prompt tokens per circuit for the first prompt: {prompt_tokens}.

| figure | value | goal |
|---|---|---|
| 1. first `/api/ask` after `/ready` / the second (new prompt) | {r1} | ≤ 1.2 |
| 2. p50 `/api/ask` / the same three calls, llama-cpp-python in three threads | {r2} | ≤ 1.05 |
| 3. launch → `/ready`, cold index | {cold_s:.1f} s | report |
| 3. launch → `/ready`, warm index | {warm_s:.1f} s | report |
| warm-up (longest circuit) / replay | {warm_max:.2f} s / {replay_s} s | — |

Each circuit warms its static prefix (persona + declarations) in parallel with the replay,
so `/ready` waits for whichever is longer; the warm-up's own cost is the column above.
첫 답과 다음 답의 비율, 서버와 직접 호출의 p50 비율, 시작부터 준비까지의 시간.

Threads (raw three-thread fan-out, same run; cold = first prompt with its prefix
evaluated, warm = p50 of three new prompts after it):

| n_threads | n_threads_batch | cold s | warm p50 s |
|---|---|---|---|
{rows}
""",
    )


if __name__ == "__main__":
    main()
