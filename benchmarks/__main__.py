"""Run every benchmark and record the figures in BENCHMARKS.md: `python -m benchmarks`."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "benchmarks.bench_fanout",
    "benchmarks.bench_throughput",
    "benchmarks.bench_warm",
    "benchmarks.bench_head",
    "benchmarks.bench_replay",
    "benchmarks.bench_train",
    "benchmarks.bench_lora_serve",
    "benchmarks.bench_lora_callers",
    "benchmarks.bench_recall",
    "benchmarks.bench_rerank",  # after bench_recall: it reads its sets
    "benchmarks.bench_recall_scale",
    "benchmarks.bench_hnsw_shape",
    "benchmarks.bench_tune",
    "benchmarks.bench_forget",
)

if __name__ == "__main__":
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        subprocess.run([sys.executable, "-m", module], check=True)
