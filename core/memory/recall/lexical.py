"""The two lexical recall paths: BM25 over morphemes, and trigrams without a recency cut.

- morphemes: the prompt's terms (same analysis as the lines), minus the ones so common
  they carry no signal; BM25 over every line that holds any (core/memory/recall/bm25.py).
- trigram: each prompt word's lines from the trigram table, all of them, unless the word
  is in more than TRIGRAM_DF_CAP lines (then it is as good as a stop word); the lines
  holding the rarest words are checked against the text and ranked by BM25
  (core/memory/search.py). No "newest N" cut anywhere.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict

from core.memory import search as ms
from core.memory.recall.bm25 import MorphIndex
from core.memory.recall.terms import TERMS_CONTEXT, TermSource
from core.memory.rows import fts_rowids

COMMON_SHARE = 0.05  # a morpheme in more than this share of lines is dropped from a query
KEEP_RAREST = 2  # ...unless every term is that common: then the rarest few stay
MAX_TERMS = 24
TRIGRAM_DF_CAP = 4000
TRIGRAM_POOL = 300
TERMS_SPAN = 1 + TERMS_CONTEXT[0] + TERMS_CONTEXT[1]


def morpheme_terms(
    analyzer: TermSource, index: MorphIndex, prompt: str, lines: int, span: int = TERMS_SPAN
) -> tuple[list[str], float]:
    """(the query terms worth matching, rarest first; the share of terms the archive holds).

    `span`: how many lines' terms each line's BM25 terms hold (the line and its neighbours,
    morphemes.TERMS_CONTEXT): a word said once stands in that many lines' terms, so "too
    common" is measured against that many times the share."""
    terms = list(dict.fromkeys(analyzer.terms(prompt)))[:MAX_TERMS]
    if not terms:
        return [], 1.0
    docs = sorted((df, term) for term in terms if (df := index.doc_freq(term)))
    limit = max(COMMON_SHARE * lines * span, 50)
    kept = [term for doc, term in docs if doc <= limit]
    share = len(docs) / len(terms)
    return (kept if kept else [term for _, term in docs[:KEEP_RAREST]]), share


def trigram_pool(conn: sqlite3.Connection, prompt: str, lines: int) -> tuple[list[str], list[int]]:
    """(terms, candidate rowids): the lines holding the prompt's rarer words, likeliest first."""
    terms = ms.prompt_terms(prompt)
    scores: dict[int, float] = defaultdict(float)
    for term in terms:
        match = ms.phrase_match(term)
        if match is None:
            continue
        rows = fts_rowids(conn, match, TRIGRAM_DF_CAP + 1)
        if not rows or len(rows) > TRIGRAM_DF_CAP:
            continue
        idf = math.log(1 + (lines - len(rows) + 0.5) / (len(rows) + 0.5))
        for rowid in rows:
            scores[rowid] += idf
    ranked = sorted(scores, key=lambda r: (-scores[r], -r))[:TRIGRAM_POOL]
    return terms, ranked
