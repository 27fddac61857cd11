"""Fan-out: three demo circuits answered concurrently through POST /api/ask, against the
same three calls made one after another straight through llama-cpp-python, same run.

Run: .venv/bin/python -m benchmarks.bench_fanout   (or `make bench` for every benchmark)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import DEMO_MODEL, machine, server, write_section
from core.context import build_messages
from core.settings import CIRCUIT_NAMES
from llm.personas import PERSONAS

PROMPT = "Tell me a short story about the sea."


def load_models(n_ctx: int) -> dict[str, Any]:
    """Three `Llama` objects of the demo model, one per circuit, as the server has."""
    from llama_cpp import Llama

    return {n: Llama(str(DEMO_MODEL), n_ctx=n_ctx, verbose=False) for n in CIRCUIT_NAMES}


def sequential(models: dict[str, Any], max_tokens: int, n_ctx: int) -> tuple[float, int]:
    """The three calls one after another through llama-cpp-python; (seconds, tokens)."""
    started, tokens = time.perf_counter(), 0
    for name, llama in models.items():
        messages = build_messages(PERSONAS[name], PROMPT, n_ctx=n_ctx, max_tokens=max_tokens)
        for chunk in llama.create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
        ):
            tokens += bool(chunk["choices"][0]["delta"].get("content"))
    return time.perf_counter() - started, tokens


def threaded(models: dict[str, Any], max_tokens: int, n_ctx: int) -> tuple[float, int]:
    """The same three calls in three plain threads, no server: the raw fan-out floor."""
    import threading

    counts: dict[str, int] = {}

    def one(name: str) -> None:
        messages = build_messages(PERSONAS[name], PROMPT, n_ctx=n_ctx, max_tokens=max_tokens)
        stream = models[name].create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
        )
        counts[name] = sum(bool(c["choices"][0]["delta"].get("content")) for c in stream)

    workers = [threading.Thread(target=one, args=(name,)) for name in models]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started, sum(counts.values())


def through_server(url: str) -> tuple[float, int]:
    """One /api/ask (three circuits at once); (seconds, tokens)."""
    started = time.perf_counter()
    response = httpx.post(url + "/api/ask", json={"prompt": PROMPT}, timeout=600)
    response.raise_for_status()
    doc = response.json()
    assert all(c["status"] == "ok" for c in doc["circuits"].values()), doc
    return time.perf_counter() - started, sum(c["tokens"] for c in doc["circuits"].values())


def main() -> None:
    """Measure, print and record the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    n_ctx = 2048
    env = {
        "ECHO_TEMPERATURE": "0",
        "ECHO_MAX_TOKENS": str(args.max_tokens),
        "ECHO_N_CTX": str(n_ctx),
        "ECHO_CONTEXT_LINES": "0",  # the same three prompts on both paths
    }
    par, seq, raw = [], [], []
    models = load_models(n_ctx)
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp), **env) as url:
        through_server(url)  # warm-up on both paths: first-call costs are not what we measure
        sequential(models, args.max_tokens, n_ctx)
        for _ in range(args.rounds):
            par.append(through_server(url))
            seq.append(sequential(models, args.max_tokens, n_ctx))
            raw.append(threaded(models, args.max_tokens, n_ctx))
    for llama in models.values():
        llama.close()
    p = statistics.median(t for t, _ in par)
    s = statistics.median(t for t, _ in seq)
    r = statistics.median(t for t, _ in raw)
    ratio = p / s
    print(
        f"raw threads: {r:.2f} s; parallel via /api/ask: {p:.2f} s ({par[0][1]} tokens); "
        f"sequential llama-cpp-python: {s:.2f} s ({seq[0][1]} tokens); ratio {ratio:.2f}"
    )
    write_section(
        "Fan-out: three circuits through /api/ask vs. sequential",
        f"""
Command: `.venv/bin/python -m benchmarks.bench_fanout --rounds {args.rounds} \
--max-tokens {args.max_tokens}`
Machine: {machine()}
Model: SmolLM2-135M-Instruct Q4_1 in all three circuits, greedy (temperature 0), n_ctx {n_ctx},
each server circuit in its worker process with 1 thread (cores ÷ 3), the straight paths with
llama.cpp's default threads, both paths warmed up by one untimed call, `ECHO_CONTEXT_LINES=0`
so the server sends the same three prompts as the sequential path. Median of {args.rounds}
rounds, measured in the same run.

| path | seconds | tokens |
|---|---|---|
| three circuits concurrently through `POST /api/ask` (real server) | {p:.2f} | {par[0][1]} |
| the same three calls one after another, straight llama-cpp-python | {s:.2f} | {seq[0][1]} |
| the same three calls in three plain threads, no server (the raw floor) | {r:.2f} | {raw[0][1]} |

**Ratio parallel / sequential = {ratio:.2f}** (goal ≤ 0.5). / 병렬 ÷ 순차 = {ratio:.2f} (목표 ≤ 0.5)

Raw threads / sequential = {r / s:.2f}: on 2 cores the floor is about 0.5, because the
sequential path already decodes on one thread per call (llama.cpp's default `n_threads` =
cores / 2), so three at once can at most double the throughput; server / raw threads =
{p / r:.2f} is what the server itself costs.
2코어에서는 약 0.5가 하한입니다
(순차 경로도 호출마다 한 스레드로 디코딩하므로 동시 실행은 최대 두 배).
""",
    )


if __name__ == "__main__":
    main()
