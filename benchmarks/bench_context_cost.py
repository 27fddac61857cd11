"""What context in the index costs a large archive (issue 23 item 4): re-analysis time, terms,
BM25 postings and the morpheme path's latency, before and after.

    python -m benchmarks.bench_context_cost MEMORY alone     # the store as it is (v3 terms)
    python -m benchmarks.bench_context_cost MEMORY reanalyse # one pass of the job (no vector)
    python -m benchmarks.bench_context_cost MEMORY context   # the store after (v4 terms)

MEMORY: a copy of an archive indexed with line-alone terms (for example the forget
benchmark's 303,892-line build, benchmarks/_work/recall/forget-build-900/memory, copied).
Run each mode in its own process: the postings' RSS is measured as the growth of the process.
Prints one JSON line; BENCHMARKS.md "Contextual passages" holds the recorded run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from core.memory.recall.trigram import TERMS_SPAN

from benchmarks.recall_locomo import load_locomo, locomo_path
from core.memory.index import MemoryIndex
from core.memory.recall.enrich import Enricher
from core.memory.recall.fusion import Recaller

PROMPTS = 200


def rss_mib() -> float:
    """This process's resident memory now."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class NoEmbedder:
    """Re-analysis must not embed: a line's passage (the line) did not change."""

    def passages(self, texts: list[str]) -> None:
        raise RuntimeError("no vector should be made again")


def measure(memory: Path, span: int) -> dict[str, float]:
    """Postings RSS, their load time and the morpheme path's latency on LoCoMo questions."""
    conversations, _ = load_locomo(locomo_path())
    prompts = [q["question"] for c in conversations for q in c["qa"]][:PROMPTS]
    recaller = Recaller(MemoryIndex(memory))
    recaller.terms_span = span
    try:
        recaller.analyzer.terms("warm")
        before, began = rss_mib(), time.perf_counter()
        recaller.morphs.catch_up(recaller.store)
        load_s, grown = time.perf_counter() - began, rss_mib() - before
        times = []
        for prompt in prompts:
            began = time.perf_counter()
            recaller.recall(prompt, 10, path="morpheme")
            times.append(1000 * (time.perf_counter() - began))
        times.sort()
        terms = recaller.store.query(
            "SELECT count(*), coalesce(sum(length(terms)), 0) FROM morphs WHERE terms != ''")[0]
        return {"lines": recaller.morphs.lines, "terms_MB": round(terms[1] / 1e6, 1),
                "postings_MiB": round(grown), "load_s": round(load_s, 1),
                "morpheme_p50_ms": round(statistics.median(times), 1),
                "morpheme_p95_ms": round(times[int(0.95 * len(times))], 1)}
    finally:
        recaller.close()
        recaller.index.close()


def reanalyse(memory: Path) -> dict[str, float]:
    """One pass of the enrichment job over the store: what an upgrade costs."""
    enricher = Enricher(memory, embedder=NoEmbedder())  # type: ignore[arg-type]
    began, cpu, steps = time.perf_counter(), time.process_time(), 0
    try:
        while enricher.step():
            steps += 1
    finally:
        enricher.close()
    return {"wall_s": round(time.perf_counter() - began), "cpu_s": round(time.process_time() - cpu),
            "steps": steps, "load": round(os.getloadavg()[0], 1)}


def main() -> None:
    """Command line entry point."""
    memory, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "reanalyse":
        out = reanalyse(memory)
    else:
        out = measure(memory, 1 if mode == "alone" else TERMS_SPAN)
    print(mode, json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
