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

import httpx

from benchmarks.common import DEMO_MODEL, machine, server, write_section
from core.context import build_messages
from core.settings import CIRCUIT_NAMES
from llm.personas import PERSONAS

PROMPT = "Tell me a short story about the sea."


def sequential(max_tokens: int, n_ctx: int) -> tuple[float, int]:
    """The three calls one after another through llama-cpp-python; (seconds, tokens)."""
    from llama_cpp import Llama

    models = {n: Llama(str(DEMO_MODEL), n_ctx=n_ctx, verbose=False) for n in CIRCUIT_NAMES}
    started, tokens = time.perf_counter(), 0
    for name, llama in models.items():
        messages = build_messages(PERSONAS[name], PROMPT, n_ctx=n_ctx, max_tokens=max_tokens)
        for chunk in llama.create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
        ):
            tokens += bool(chunk["choices"][0]["delta"].get("content"))
    elapsed = time.perf_counter() - started
    for llama in models.values():
        llama.close()
    return elapsed, tokens


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
    }
    par, seq = [], []
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp), **env) as url:
        through_server(url)  # warm-up: page in the model, first-call costs
        for _ in range(args.rounds):
            par.append(through_server(url))
            seq.append(sequential(args.max_tokens, n_ctx))
    p = statistics.median(t for t, _ in par)
    s = statistics.median(t for t, _ in seq)
    ratio = p / s
    print(
        f"parallel via /api/ask: {p:.2f} s ({par[0][1]} tokens); "
        f"sequential llama-cpp-python: {s:.2f} s ({seq[0][1]} tokens); ratio {ratio:.2f}"
    )
    write_section(
        "Fan-out: three circuits through /api/ask vs. sequential",
        f"""
Command: `.venv/bin/python -m benchmarks.bench_fanout --rounds {args.rounds} \
--max-tokens {args.max_tokens}`
Machine: {machine()}
Model: SmolLM2-135M-Instruct Q4_1 in all three circuits, greedy (temperature 0), n_ctx {n_ctx},
llama.cpp default threads. Median of {args.rounds} rounds, measured in the same run.

| path | seconds | tokens |
|---|---|---|
| three circuits concurrently through `POST /api/ask` (real server) | {p:.2f} | {par[0][1]} |
| the same three calls one after another, straight llama-cpp-python | {s:.2f} | {seq[0][1]} |

**Ratio parallel / sequential = {ratio:.2f}** (goal ≤ 0.5). / 병렬 ÷ 순차 = {ratio:.2f} (목표 ≤ 0.5)
""",
    )


if __name__ == "__main__":
    main()
