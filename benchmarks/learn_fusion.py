"""Learn the fusion's lexical weight for prompts written in Hangul, on data the benchmark does
not ask.

Data: Debian's Korean catalogues (benchmarks/recall_sets.py), the paraphrase pairs after the
ones bench_recall asks (its first 300), over an archive of their own that holds none of the
benchmark's pairs' texts. For each weight on a grid, the server's fused recall (distinct
texts, exchanges) is run on every pair; the weight with the best recall@10 wins (ties: the
better MRR@10, then the one nearer 1, the untuned default). The result is what
core/memory/recall/fusion.py's HANGUL_LEXICAL_WEIGHT should say; this script prints it and
writes the table to BENCHMARKS.md, it does not edit the code.

Command: `python -m benchmarks.learn_fusion` (a few minutes: the archive is indexed with
Kiwi and e5 once, then kept under benchmarks/_work/recall/full/ko-train).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.bench_recall import FULL, WORK, prepare
from benchmarks.common import load_note, machine, write_section
from benchmarks.recall_paths import enrich
from benchmarks.recall_report import first_rank, summarise
from benchmarks.recall_sets import build_korean_train_set

TITLE = "Fusion weight for Hangul prompts, learned / 한글 질문의 융합 가중치 학습"
GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def learn(work: Path) -> tuple[list[tuple[float, dict[str, float]]], dict[str, object]]:
    """(weight, recall@5/@10/MRR@10) for every weight on the grid, and the set's counts."""
    from core.memory.index import MemoryIndex
    from core.memory.recall.fusion import Recaller

    train = build_korean_train_set(work, FULL["ko_messages"], FULL["queries"])
    info: dict[str, object] = dict(train.info, queries=len(train.queries))
    info.update(prepare(train.memory, with_engine=False))  # the replay
    began = time.perf_counter()
    enrich(train.memory)  # morphemes (with their context, as the server) and vectors
    info["enrich_s"] = round(time.perf_counter() - began, 1)
    index = MemoryIndex(train.memory)
    recaller = Recaller(index)
    rows = []
    try:
        for weight in GRID:
            recaller.hangul_lexical_weight = weight
            ranks = []
            for query in train.queries:
                hits = recaller.recall(query.text, k=10)
                ranks.append(first_rank([(h.day, int(h.part), int(h.line)) for h in hits],
                                        query.relevant))
            rows.append((weight, summarise(ranks)))
            print(f"  weight {weight:.1f}: {rows[-1][1]}", flush=True)
    finally:
        recaller.close()
        index.close()
    return rows, info


def best(rows: list[tuple[float, dict[str, float]]]) -> float:
    """The weight with the best recall@10, then MRR@10, then nearest 1."""
    return max(rows, key=lambda r: (round(r[1]["recall@10"], 6), round(r[1]["mrr@10"], 6),
                                    -abs(1.0 - r[0])))[0]


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=WORK / "full")
    args = parser.parse_args()
    start = os.getloadavg()[0]
    began = time.perf_counter()
    rows, info = learn(args.work)
    chosen = best(rows)
    table = ["| lexical weight | recall@5 | recall@10 | MRR@10 |", "|---|---|---|---|"]
    table += [f"| {w:.1f}{' (chosen)' if w == chosen else ''} | {m['recall@5']:.3f} | "
              f"{m['recall@10']:.3f} | {m['mrr@10']:.3f} |" for w, m in rows]
    body = (f"Machine: {machine()}; {load_note(start)}. Command: "
            f"`python -m benchmarks.learn_fusion` ({time.perf_counter() - began:.0f} s).\n\n"
            f"Data: {info}.\n\n" + "\n".join(table) + f"\n\nChosen: {chosen:.1f}. The "
            "weight multiplies the lexical paths' share for a prompt mostly in Hangul "
            "(core/memory/recall/fusion.py HANGUL_LEXICAL_WEIGHT); other prompts keep 1. "
            "These pairs are not the benchmark's: its archive holds none of their texts and "
            "it asks none of them. / 벤치마크가 묻지 않는 한국어 번역 쌍(별도 기록)에서 "
            "한글 질문의 어휘 경로 가중치를 고릅니다. 다른 질문은 1을 유지합니다.")
    print(body)
    write_section(TITLE, body)


if __name__ == "__main__":
    main()
