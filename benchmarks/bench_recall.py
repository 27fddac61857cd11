"""Benchmark of what the memory recalls: recall@5, recall@10 and MRR@10 of every path, one run.

    python -m benchmarks.bench_recall            # the full sets; writes BENCHMARKS.md
    python -m benchmarks.bench_recall --quick    # small sets, a short check (writes nothing)

Sets (public data nobody here wrote, built at run time, never committed): Korean paraphrase
and cross-language from Debian's Korean gettext catalogues (benchmarks/recall_sets.py),
English conversations from LoCoMo (benchmarks/recall_locomo.py). Paths: today's
(`context_for` of 5f19089), the engine's morpheme, dense, trigram and fused paths, and
bm25s as the peer (benchmarks/recall_paths.py). Each archive is indexed by the project's
own replay, then enriched (morphemes, vectors) by the engine's backfill; a second run with
the same sets reuses the archive, its index and its vectors.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, load_note, machine, write_section
from benchmarks.recall_locomo import SHA256, SOURCE, build_locomo_set, load_locomo, locomo_path
from benchmarks.recall_paths import CLOCK, all_runners, alone_copy, engine_available, enrich
from benchmarks.recall_report import (
    PathResult,
    category_table,
    first_rank,
    goals,
    goals_23,
    goals_table,
    info_line,
    misses,
    table,
    union_recall,
)
from benchmarks.recall_sets import DEBIAN_EXTRAS, RecallSet, build_korean_sets

LOAD_START = os.getloadavg()[0]  # when the module is imported: the run's start
TITLE = "Memory recall / 기억 회상"
WORK = REPO / "benchmarks" / "_work" / "recall"
FULL = {"ko_messages": 3_000, "queries": 300, "first": 1, "last": 10}
QUICK = {"ko_messages": 3_000, "queries": 60, "first": 1, "last": 2}


def prepare(memory: Path, with_engine: bool, alone: bool = False) -> dict[str, Any]:
    """Replay the archive into the index (the project's replay), then morphemes and vectors
    (`alone`: each line without its neighbours, the previous path's copy)."""
    from core.memory.replay import replay_archive

    manifest = memory.parent / ("manifest-alone" if alone else "manifest")
    manifest.mkdir(exist_ok=True)
    began = time.perf_counter()
    insight = replay_archive(memory, manifest)
    out: dict[str, Any] = {"lines": insight.get("lines"),
                           "replay_s": round(time.perf_counter() - began, 2)}
    if with_engine:
        began = time.perf_counter()
        enrich(memory, alone=alone)
        out["enrich_s"] = round(time.perf_counter() - began, 2)
    if with_engine and not alone:  # the previous path (lines alone) over a copy
        copy = prepare(alone_copy(memory), with_engine, alone=True)
        out["alone_enrich_s"] = copy.get("enrich_s")
    return out


def evaluate(recall_set: RecallSet, runners: dict[str, Any], k: int = 10) -> dict[str, PathResult]:
    """Every path on every query of the set."""
    results: dict[str, PathResult] = {}
    for path, run in runners.items():
        result = PathResult()
        for query in recall_set.queries:
            CLOCK.asked = query.asked
            began = time.perf_counter()
            hits = run(query.text, k)[:k]
            result.seconds.append(time.perf_counter() - began)
            result.hits.append(hits)
            result.ranks.append(first_rank(hits, query.relevant))
        results[path] = result
        print(f"  {recall_set.name} {path}: {result.metrics()}", flush=True)
    return results


def build_sets(work: Path, sizes: dict[str, int]) -> list[RecallSet]:
    """The sets this machine can build (LoCoMo only when its file is here)."""
    korean, cross = build_korean_sets(work, sizes["ko_messages"], sizes["queries"])
    sets = [korean, cross]
    path = locomo_path()
    if path.is_file():
        conversations, digest = load_locomo(path)
        chosen = range(sizes["first"], sizes["last"] + 1)
        locomo = build_locomo_set(work, conversations, chosen)
        locomo.info["sha256_ok"] = digest == SHA256
        sets.insert(0, locomo)
    else:
        print(f"LoCoMo skipped: {path} not found (see benchmarks/recall_locomo.py) / "
              "LoCoMo 파일이 없어 건너뜀", flush=True)
    for recall_set in sets:
        recall_set.queries = recall_set.queries[:: sizes.get("every", 1)]
        print(f"{recall_set.name}: {len(recall_set.queries)} queries; "
              f"{info_line(recall_set.info)}", flush=True)
    return sets


def run(work: Path, sizes: dict[str, int], only: list[str] | None = None) -> dict[str, Any]:
    """Build, index and evaluate every set (or those named in `only`); the results by set."""
    with_engine = engine_available()
    sets = [s for s in build_sets(work, sizes) if not only or s.name in only]
    prepared: dict[Path, dict[str, Any]] = {}
    results: dict[str, dict[str, PathResult]] = {}
    texts: dict[str, dict[tuple[str, int, int], str]] = {}
    for recall_set in sets:
        if recall_set.memory not in prepared:
            prepared[recall_set.memory] = prepare(recall_set.memory, with_engine)
            print(f"  indexed {recall_set.memory}: {prepared[recall_set.memory]}", flush=True)
        runners, close = all_runners(recall_set.memory, with_engine)
        try:
            results[recall_set.name] = evaluate(recall_set, runners)
        finally:
            close()
        from benchmarks.recall_paths import index_lines

        texts[recall_set.name] = dict(index_lines(recall_set.memory))
    return {"sets": sets, "prepared": prepared, "results": results, "texts": texts,
            "engine": with_engine}


def report(outcome: dict[str, Any], command: str, misses_per_path: int) -> str:
    """The markdown of one run: machine, sets, a table per set, goals, misses."""
    parts = [f"Machine: {machine()}; {load_note(LOAD_START)}. Command: `{command}`.",
             "A query counts as found at rank r when any of its relevant lines is the r-th "
             "line returned (LoCoMo: any evidence line).",
             f"LoCoMo: {SOURCE}. Korean catalogues: Debian 12 base plus `{DEBIAN_EXTRAS}`.",
             "Paths: today = `context_for` of 5f19089 (trigram OR, newest 2,000 candidates); "
             "bm25s = its default tokenizer (lowercase, `\\b\\w\\w+\\b`, English stop "
             "words, no stemmer); bm25s+stem = the same with PyStemmer's Snowball English "
             "(stemming and stop words: bm25s as its users run it). fused = the server's "
             "recall (distinct texts, exchanges); fused-lines = the fused path as before "
             "issue 23 (lines, repeats kept); fused+distinct = distinct texts, no exchanges; "
             "fused-first-copy = the server's recall keeping the first-ranked copy of "
             "identical texts, not the one whose turn fits best; fused-no-dates = the server's "
             "recall with the time favour off (a prompt naming a time, 'recently', 'last "
             "year', gains nothing from the lines' dates). LoCoMo's sessions are filed under "
             "their own dates and each question is asked on the day of its conversation's "
             "last session. "
             "Each line's BM25 terms hold its neighbours' (two lines before and after in "
             "its part, its own terms three times; core/memory/recall/terms.py); its vector "
             "is still made from the line alone. morpheme-alone, fused-alone = the same "
             "paths over a copy of the archive whose lines were indexed alone (the path "
             "before contextual passages)."]
    if not outcome["engine"]:
        parts.append("The recall engine (core/memory/recall/fusion.py) is not in this tree: only "
                     "today's path and bm25s were measured.")
    for recall_set in outcome["sets"]:
        results = outcome["results"][recall_set.name]
        prepared = outcome["prepared"][recall_set.memory]
        ceiling = union_recall(results, ("morpheme", "dense", "trigram"))
        parts.append(f"### {recall_set.name}\n\n{len(recall_set.queries)} queries; "
                     f"{info_line(recall_set.info)}; index: {info_line(prepared)}.\n\n"
                     f"{table(results)}\n\nAny of morpheme/dense/trigram in its top 10 "
                     f"(fusion's ceiling): {ceiling:.3f}")
        if recall_set.name == "locomo":
            parts.append("Per kind of question, recall@5 / recall@10 / MRR@10:\n\n"
                         + category_table(results, recall_set.queries))
    parts.append("### Goals (issue 16)\n\n" + goals_table(goals(outcome["results"])))
    locomo = next((s.queries for s in outcome["sets"] if s.name == "locomo"), None)
    parts.append("### Goals (issue 23, recall)\n\n"
                 + goals_table(goals_23(outcome["results"], locomo)))
    if misses_per_path:
        for recall_set in outcome["sets"]:
            parts.append(f"### Misses: {recall_set.name}\n\n" + misses(
                outcome["results"][recall_set.name], recall_set.queries,
                outcome["texts"][recall_set.name], misses_per_path))
    return "\n\n".join(parts)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sets, writes nothing")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--notes", type=Path, help="also write tables and misses here")
    parser.add_argument("--only", action="append", help="evaluate only this set (writes no "
                        "BENCHMARKS.md): locomo, korean-paraphrase, cross-language")
    parser.add_argument("--locomo", default="", help="LoCoMo conversations FIRST-LAST (1-10)")
    parser.add_argument("--every", type=int, default=1, help="keep every Nth query of a set")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    if args.locomo:
        sizes["first"], sizes["last"] = (int(x) for x in args.locomo.split("-"))
    sizes["every"] = args.every
    command = "python -m benchmarks.bench_recall" + (" --quick" if args.quick else "") + (
        f" --locomo {args.locomo}" if args.locomo else "") + (
        f" --every {args.every}" if args.every > 1 else "") + "".join(
        f" --only {name}" for name in args.only or [])
    outcome = run(args.work / ("quick" if args.quick else "full"), sizes, args.only)
    print(report(outcome, command, 0))
    if args.notes:
        args.notes.write_text(f"# Recall results\n\n{report(outcome, command, 4)}\n",
                              encoding="utf-8")
    if not args.quick and not args.only:
        write_section(TITLE, report(outcome, command, 0))


if __name__ == "__main__":
    main()
