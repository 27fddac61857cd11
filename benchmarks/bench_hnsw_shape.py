"""The dense search at 300k lines on vectors shaped like e5's, not the stand-ins.

    python -m benchmarks.bench_hnsw_shape          # BENCHMARKS.md, after bench_recall

bench_recall_scale times recall over stand-in line vectors (hash-seeded unit vectors spread
evenly over the sphere), because embedding 300k lines takes hours here. Real e5 vectors sit
in a narrow cone and cluster, which can change both the HNSW search time and how many true
nearest lines it finds. This builds two graphs of the same size, with the server's own
settings (`core.memory.recall.graph._new_index`): one over the stand-ins, one over vectors drawn
around real e5 line vectors (the quality run's LoCoMo and Korean lines: each a mix of two
real vectors plus a little noise), and searches both with real e5 prompt vectors: p50/p95
of a search at the recall depth, and its recall of the exact top 50.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
from typing import Any

import numpy as np

from benchmarks.bench_recall import WORK
from benchmarks.bench_recall_scale import real_prompts
from benchmarks.common import load_note, machine, write_section
from core.memory.recall.embed import Embedder
from core.memory.recall.fusion import DEPTH
from core.memory.recall.graph import _new_index
from core.memory.recall.store import DIM, decode_vectors

LOAD_START = os.getloadavg()[0]
TITLE = "Dense search on e5-shaped vectors / e5 모양 벡터에서의 밀집 검색"
LINES = 303_892  # bench_recall_scale's archive


def real_line_vectors() -> np.ndarray:
    """The line vectors the quality run embedded with real e5 (LoCoMo and Korean sets)."""
    found = []
    for name in ("locomo", "ko"):
        db = WORK / "full" / name / "memory" / ".echo_recall.sqlite3"
        if not db.is_file():
            raise SystemExit(f"{db} is missing: run `python -m benchmarks.bench_recall` first")
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            found.append(decode_vectors([r[0] for r in conn.execute("SELECT vec FROM vectors")]))
        finally:
            conn.close()
    return np.concatenate(found)


def shaped(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors around the real ones: mixes of two real vectors plus noise."""
    a, b = rng.integers(0, len(real), n), rng.integers(0, len(real), n)
    mix = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    out = mix * real[a] + (1 - mix) * real[b]
    out += rng.standard_normal((n, DIM)).astype(np.float32) * 0.01
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def spread(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors spread evenly over the sphere, as the stand-ins are."""
    out = rng.standard_normal((n, DIM)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def mean_cosine(vectors: np.ndarray, rng: np.random.Generator, pairs: int = 20_000) -> float:
    a, b = rng.integers(0, len(vectors), pairs), rng.integers(0, len(vectors), pairs)
    return float(np.mean(np.sum(vectors[a] * vectors[b], axis=1)))


def measure(vectors: np.ndarray, queries: np.ndarray, efs: list[int]) -> dict[int, Any]:
    """Build the server's graph over `vectors`; search it with each query at DEPTH, once per
    search expansion in `efs` (usearch's `expansion_search`, candidates kept while searching)."""
    index = _new_index()
    began = time.perf_counter()
    index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=2)
    build_s = time.perf_counter() - began
    exact = [set(np.argpartition(-(vectors @ q), DEPTH)[:DEPTH].tolist()) for q in queries]
    out: dict[int, Any] = {}
    for ef in efs:
        index.expansion_search = ef
        times, found = [], []
        for query, best in zip(queries, exact, strict=True):
            began = time.perf_counter()
            matches = index.search(query, DEPTH, threads=1)
            times.append(1000 * (time.perf_counter() - began))
            found.append(len(best & {int(k) for k in matches.keys}) / DEPTH)
        cuts = statistics.quantiles(times, n=20)
        out[ef] = {"p50_ms": statistics.median(times), "p95_ms": cuts[18],
                   "recall": statistics.mean(found), "build_s": build_s}
    return out


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=LINES)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 128, 256],
                        help="search expansions to try (64 is usearch's default)")
    args = parser.parse_args()
    rng = np.random.default_rng(16)
    real = real_line_vectors()
    embedder = Embedder()
    queries = np.stack([embedder.query(p) for p in real_prompts(args.prompts)])
    sets = {"stand-ins (even over the sphere)": spread(args.lines, rng),
            "e5-shaped (around real e5 lines)": shaped(real, args.lines, rng)}
    rows = ["| line vectors | mean cosine of two lines | expansion_search | search p50 ms | "
            f"p95 ms | recall of the exact top {DEPTH} | graph build s (2 threads) |",
            "|---|---|---|---|---|---|---|",
            f"| real e5 lines ({len(real)}, for reference) | {mean_cosine(real, rng):.3f} | — "
            "| — | — | — | — |"]
    for name, vectors in sets.items():
        cosine = mean_cosine(vectors, rng)
        for ef, got in measure(vectors, queries, args.ef).items():
            print(name, ef, got, flush=True)
            rows.append(f"| {name} | {cosine:.3f} | {ef} | {got['p50_ms']:.2f} | "
                        f"{got['p95_ms']:.2f} | {got['recall']:.3f} | {got['build_s']:.0f} |")
    command = "python -m benchmarks.bench_hnsw_shape" + (
        f" --lines {args.lines}" if args.lines != LINES else "")
    text = "\n\n".join([
        f"Machine: {machine()}; {load_note(LOAD_START)}. Command: `{command}`.",
        f"{args.lines:,} line vectors, the server's graph settings (usearch HNSW, float16, "
        f"cosine), {len(queries)} real e5 prompt vectors (bench_recall_scale's prompts), "
        f"searched at the recall depth ({DEPTH}) on one thread. e5-shaped: each vector a mix "
        f"of two of the {len(real):,} real e5 line vectors of the quality run (weights "
        "0.5–1 and the rest) plus Gaussian noise of 0.01 a dimension, normalised.",
        "\n".join(rows),
    ])
    print(text)
    write_section(TITLE, text)


if __name__ == "__main__":
    main()
