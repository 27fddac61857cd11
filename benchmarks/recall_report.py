"""Metrics and tables of the recall benchmark.

A query counts as found at rank r when ANY of its relevant lines is the r-th line a path
returns (for LoCoMo: any evidence line). recall@k: share of queries found at rank <= k;
MRR@10: mean of 1/r over queries found at rank <= 10 (0 otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from benchmarks.recall_sets import Query

Ref = tuple[str, int, int]


def first_rank(hits: Sequence[Ref], relevant: Iterable[Ref]) -> int | None:
    """1-based rank of the first relevant line among `hits`, None when none is there."""
    wanted = {tuple(ref) for ref in relevant}
    for rank, hit in enumerate(hits, 1):
        if tuple(hit) in wanted:
            return rank
    return None


def summarise(ranks: Sequence[int | None]) -> dict[str, float]:
    """recall@5, recall@10 and MRR@10 of a list of first ranks."""
    n = len(ranks) or 1
    return {
        "recall@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "recall@10": sum(1 for r in ranks if r is not None and r <= 10) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
    }


@dataclass
class PathResult:
    """One path on one set: the first rank of every query, the hits and the time taken."""

    ranks: list[int | None] = field(default_factory=list)
    hits: list[list[Ref]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """The set's figures for this path, with the median query time in ms."""
        return {**summarise(self.ranks), "ms_p50": 1000 * median(self.seconds or [0.0])}


def union_recall(results: dict[str, PathResult], paths: Sequence[str], k: int = 10) -> float:
    """Share of queries that at least one of `paths` finds in its top k (fusion's ceiling)."""
    present = [results[p] for p in paths if p in results]
    if not present:
        return 0.0
    n = len(present[0].ranks)
    found = sum(1 for i in range(n) if any(_within(r.ranks[i], k) for r in present))
    return found / (n or 1)


def _within(rank: int | None, k: int) -> bool:
    return rank is not None and rank <= k


def table(results: dict[str, PathResult]) -> str:
    """A markdown table: one row per path."""
    rows = ["| path | recall@5 | recall@10 | MRR@10 | query p50 ms |", "|---|---|---|---|---|"]
    for path, result in results.items():
        m = result.metrics()
        rows.append(f"| {path} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | "
                    f"{m['mrr@10']:.3f} | {m['ms_p50']:.1f} |")
    return "\n".join(rows)


CATEGORY_NAMES = {"cat 1": "multi-hop", "cat 2": "temporal", "cat 3": "open-domain",
                  "cat 4": "single-hop"}


def category_table(results: dict[str, PathResult], queries: list[Query]) -> str:
    """recall@5 / recall@10 / MRR@10 per kind of question (the query's note), per path."""
    kinds = sorted({q.note for q in queries})
    head = " | ".join(CATEGORY_NAMES.get(k, k) + f" (n={sum(q.note == k for q in queries)})"
                      for k in kinds)
    rows = [f"| path | {head} |", "|---|" + "---|" * len(kinds)]
    for path, result in results.items():
        cells = []
        for kind in kinds:
            ranks = [r for q, r in zip(queries, result.ranks, strict=True) if q.note == kind]
            m = summarise(ranks)
            cells.append(f"{m['recall@5']:.2f} / {m['recall@10']:.2f} / {m['mrr@10']:.2f}")
        rows.append(f"| {path} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def misses(
    results: dict[str, PathResult], queries: list[Query], texts: dict[Ref, str], count: int = 3
) -> str:
    """A few queries each path misses (none in its top 10): query, a relevant line, top hit."""
    out = []
    for path, result in results.items():
        shown = 0
        for query, rank, hits in zip(queries, result.ranks, result.hits, strict=True):
            if rank is not None and rank <= 10:
                continue
            relevant = texts.get(min(query.relevant), "?")
            top = texts.get(hits[0], "?") if hits else "(nothing)"
            out.append(f"- {path}: `{_short(query.text)}` wanted `{_short(relevant)}`, "
                       f"got `{_short(top)}`" + (f" ({query.note[:40]})" if query.note else ""))
            shown += 1
            if shown >= count:
                break
    return "\n".join(out)


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= width else text[: width - 1] + "…"


def goals(sets: dict[str, dict[str, PathResult]]) -> list[tuple[str, str, bool]]:
    """The issue's quality goals: (goal, measured, met) for the sets present."""
    out: list[tuple[str, str, bool]] = []

    def r10(name: str, path: str) -> float | None:
        result = sets.get(name, {}).get(path)
        return None if result is None else result.metrics()["recall@10"]

    singles = ("morpheme", "dense", "trigram", "today", "bm25s", "bm25s+stem")
    for name in ("locomo", "korean-paraphrase", "cross-language"):
        fused = r10(name, "fused")
        if fused is None:
            continue
        best_single = max((v for p in singles if (v := r10(name, p)) is not None), default=0.0)
        out.append((f"{name}: fused ≥ best single path", f"{fused:.3f} vs {best_single:.3f}",
                    fused >= best_single))
    fused = r10("locomo", "fused")
    peers = [v for p in ("bm25s", "bm25s+stem") if (v := r10("locomo", p)) is not None]
    if fused is not None and peers:
        out.append(("locomo: fused ≥ bm25s + 0.10 (the better bm25s)",
                    f"{fused:.3f} vs {max(peers):.3f}", fused >= max(peers) + 0.10))
    fused, today = r10("korean-paraphrase", "fused"), r10("korean-paraphrase", "today")
    if fused is not None and today is not None:
        out.append(("korean: fused ≥ today + 0.12", f"{fused:.3f} vs {today:.3f}",
                    fused >= today + 0.12))
    fused = r10("cross-language", "fused")
    if fused is not None:
        out.append(("cross-language: fused recall@10 ≥ 0.65", f"{fused:.3f}", fused >= 0.65))
    return out


def goals_23(
    sets: dict[str, dict[str, PathResult]], locomo: list[Query] | None
) -> list[tuple[str, str, bool]]:
    """Issue 23's done-when on recall, against the previous path of the same run
    (`fused-alone`: lines embedded and indexed alone), for the sets present."""
    out: list[tuple[str, str, bool]] = []

    def r10(name: str, path: str, kind: str | None = None) -> float | None:
        result = sets.get(name, {}).get(path)
        if result is None:
            return None
        if kind is None or locomo is None:
            return result.metrics()["recall@10"]
        ranks = [r for q, r in zip(locomo, result.ranks, strict=True) if q.note == kind]
        return summarise(ranks)["recall@10"]

    fused, stem = r10("locomo", "fused"), r10("locomo", "bm25s+stem")
    if fused is not None and stem is not None:
        out.append(("locomo: fused ≥ 0.75", f"{fused:.3f}", fused >= 0.75))
        out.append(("locomo: fused ≥ bm25s+stem + 0.15", f"{fused:.3f} vs {stem:.3f}",
                    fused >= stem + 0.15))
    for kind in sorted({q.note for q in locomo or []}):
        new, old = r10("locomo", "fused", kind), r10("locomo", "fused-alone", kind)
        if new is not None and old is not None:
            out.append((f"locomo {CATEGORY_NAMES.get(kind, kind)}: fused ≥ fused-alone",
                        f"{new:.3f} vs {old:.3f}", new >= old))
    new, old = r10("korean-paraphrase", "fused"), r10("korean-paraphrase", "fused-alone")
    if new is not None:  # the figure, measured on the 94-catalogue set (b454cd4)
        out.append(("korean-paraphrase: fused ≥ 0.950 (the issue's figure, 94 catalogues)",
                    f"{new:.3f}", new >= 0.95))
    if new is not None and old is not None:
        out.append(("korean-paraphrase: fused ≥ fused-alone", f"{new:.3f} vs {old:.3f}",
                    new >= old))
    new, dense = r10("cross-language", "fused"), r10("cross-language", "dense")
    if new is not None and dense is not None:
        out.append(("cross-language: fused ≥ dense", f"{new:.3f} vs {dense:.3f}", new >= dense))
    return out


def goals_table(rows: list[tuple[str, str, bool]]) -> str:
    """The goals as a markdown table."""
    lines = ["| goal | measured (recall@10) | met |", "|---|---|---|"]
    lines += [f"| {g} | {m} | {'yes' if ok else 'NO'} |" for g, m, ok in rows]
    return "\n".join(lines)


def info_line(info: dict[str, Any]) -> str:
    """A set's counts on one line."""
    return ", ".join(f"{k} {v}" for k, v in info.items())
