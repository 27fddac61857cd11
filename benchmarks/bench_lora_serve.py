"""Serving with a LoRA adapter: memory, load time and decode speed, base vs adapter.

    python -m benchmarks.bench_lora_serve

Each case runs in a fresh process (so its memory is its own): the demo model alone; with a
rank-16 adapter on every attention and feed-forward projection of all 30 layers (what
`echo-brain tune` makes), attached the way the circuits do (`llm.adapter`, memory map
kept); and the same adapter through `Llama(lora_path=...)`, which turns the map off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import DEMO_MODEL, REPO, load_note, machine, write_section

TOKENS = 64
PROMPT = "Once upon a time, a lighthouse keeper"
CASES = ("base", "adapter", "lora_path")


def _memory() -> dict[str, float]:
    """RssAnon and RssFile of this process, MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
    return out


def run_case(case: str, adapter: str) -> dict[str, float]:
    """Load, measure memory, decode TOKENS greedy tokens (in this process)."""
    from llama_cpp import Llama

    from llm.config import LlamaConfig
    from llm.llama_backend import LlamaBackend

    started = time.perf_counter()
    if case == "lora_path":
        llama = Llama(model_path=str(DEMO_MODEL), n_ctx=512, n_threads=2, verbose=False,
                      lora_path=adapter)
    else:
        backend = LlamaBackend(LlamaConfig(str(DEMO_MODEL), n_ctx=512, n_threads=2,
                                           lora_path=adapter if case == "adapter" else None))
        backend.load()
        llama = backend._llama
    load_s = time.perf_counter() - started
    memory = _memory()
    llama.create_completion(PROMPT, max_tokens=4, temperature=0)  # warm the kernels
    llama.reset()
    started = time.perf_counter()
    never_end = {llama.token_eos(): -1e9}  # every case decodes exactly TOKENS tokens
    out = llama.create_completion(PROMPT, max_tokens=TOKENS, temperature=0, stop=[],
                                  logit_bias=never_end)
    decode_s = time.perf_counter() - started
    tokens = out["usage"]["completion_tokens"]
    return {"load_s": load_s, "tokens_per_s": tokens / decode_s, **memory}


def _in_child(case: str, adapter: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_lora_serve", "--case", case, adapter],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    """Every case, three rounds each (the median), then the BENCHMARKS.md section."""
    from benchmarks.lora_fixture import ALL_TARGETS, write_lora

    with tempfile.TemporaryDirectory() as tmp:
        adapter = write_lora(Path(tmp) / "bench.gguf", DEMO_MODEL, layers=range(30), rank=16,
                             alpha=32.0, b_std=0.002, targets=ALL_TARGETS)
        size_mb = adapter.stat().st_size / 1e6
        load_before = os.getloadavg()[0]
        rounds = {case: [_in_child(case, str(adapter)) for _ in range(3)] for case in CASES}
        load = load_before
    rows = []
    for case, results in rounds.items():
        median = {k: sorted(r[k] for r in results)[1] for k in results[0]}
        rows.append(f"| {case} | {median['load_s']:.2f} | {median['RssAnon']:.0f} | "
                    f"{median['RssFile']:.0f} | {median['tokens_per_s']:.1f} |")
        print(case, {k: round(v, 2) for k, v in median.items()}, flush=True)
    body = (
        f"Machine: {machine()}; {load_note(load)}. The memory columns do not depend on the "
        "load; load and decode times do, compare rows only. "
        f"Command: `python -m benchmarks.bench_lora_serve`. Demo model "
        f"{DEMO_MODEL.name}; adapter rank 16 on q, k, v, o, gate, up, down of all 30 layers "
        f"({size_mb:.1f} MB, f32); n_ctx 512, 2 threads, {TOKENS} greedy tokens; median of 3 "
        "fresh processes each.\n\n"
        "| case | load s | RssAnon MB | RssFile MB | decode tokens/s |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "`adapter` is how the circuits attach it (`llm/adapter.py`: the base stays "
        "memory-mapped, RssFile); `lora_path` is `Llama(lora_path=...)`, which turns the "
        "map off and copies the model into anonymous memory."
    )
    write_section("LoRA adapter serving / LoRA 어댑터 서빙", body)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2], sys.argv[3])))
    else:
        main()
