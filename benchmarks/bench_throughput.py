"""Token throughput: one circuit through POST /v1/chat/completions against the same model
straight through llama-cpp-python, same run (goal: ≥ 0.95 of raw tokens/s).

Run: .venv/bin/python -m benchmarks.bench_throughput
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import DEMO_MODEL, machine, server, write_section
from core.circuits import thread_plan
from core.context import build_messages
from core.settings import load_settings
from llm.personas import PERSONAS

PROMPT = "Write a long story about a lighthouse keeper and the sea."


def raw(max_tokens: int, n_ctx: int, rounds: int, threads: int) -> list[float]:
    """Tokens/s of the self circuit's messages straight through llama-cpp-python."""
    from llama_cpp import Llama

    llama = Llama(str(DEMO_MODEL), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                  verbose=False)
    messages = build_messages(PERSONAS["self"], PROMPT, n_ctx=n_ctx, max_tokens=max_tokens)
    rates = []
    for _ in range(rounds + 1):
        stamps = [
            time.perf_counter()
            for chunk in llama.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
            )
            if chunk["choices"][0]["delta"].get("content")
        ]
        rates.append(decode_rate(stamps))
    llama.close()
    return rates[1:]  # the first round warms up


def served(url: str, max_tokens: int, rounds: int) -> list[float]:
    """Tokens/s of the self circuit streamed through /v1/chat/completions."""
    body = {
        "model": "self",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    rates = []
    for _ in range(rounds + 1):
        stamps = []
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=600) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: {") and '"content":"' in line.replace(" ", ""):
                    if '"content":""' not in line.replace(" ", ""):
                        stamps.append(time.perf_counter())
        rates.append(decode_rate(stamps))
    return rates[1:]


def decode_rate(stamps: list[float]) -> float:
    """Tokens/s from the first streamed token to the last (prompt processing excluded)."""
    if len(stamps) < 2:
        raise RuntimeError("too few tokens streamed to measure")
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def main() -> None:
    """Measure, print and record the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    n_ctx = 2048
    env = {
        "ECHO_N_CTX": str(n_ctx),
        "ECHO_EMOTION_MODEL": "echo",
        "ECHO_CREATION_MODEL": "echo",
        "ECHO_CONTEXT_LINES": "0",  # identical prompts on both paths: measure serving only
    }
    threads = thread_plan(load_settings(emotion_model="echo", creation_model="echo"))
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp), **env) as url:
        via_server = statistics.median(served(url, args.max_tokens, args.rounds))
        direct = statistics.median(raw(args.max_tokens, n_ctx, args.rounds, threads))
    ratio = via_server / direct
    print(f"server {via_server:.1f} tok/s, raw {direct:.1f} tok/s, ratio {ratio:.3f}")
    write_section(
        "Token throughput: one circuit through /v1/chat/completions vs. llama-cpp-python",
        f"""
Command: `.venv/bin/python -m benchmarks.bench_throughput --rounds {args.rounds} \\
--max-tokens {args.max_tokens}`
Machine: {machine()}
Model: SmolLM2-135M-Instruct Q4_1 (the `self` circuit; the other two circuits on the `echo`
backend so they take no CPU), greedy, n_ctx {n_ctx}, up to {args.max_tokens} tokens a request,
streamed (SSE through the server, `stream=True` straight); tokens/s from the first token to
the last; `ECHO_CONTEXT_LINES=0` so both paths get the identical prompt (remembered lines make
a longer prompt, which slows a 135M model's decoding by itself: 70 → 51 tok/s at +1200
chars); median of {args.rounds} rounds after one warm-up, same run. The circuit runs in its
worker process (issue 9); both paths use the server's thread plan ({threads} threads for the
one local circuit: cores ÷ local circuits).

| path | tokens/s |
|---|---|
| `POST /v1/chat/completions`, model `self` (real server) | {via_server:.1f} |
| the same messages straight through llama-cpp-python | {direct:.1f} |

**Ratio server / raw = {ratio:.3f}** (goal ≥ 0.95). / 서버 ÷ 직접 = {ratio:.3f} (목표 ≥ 0.95)
""",
    )


if __name__ == "__main__":
    main()
