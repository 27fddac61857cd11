"""The two lexical recall paths: BM25 over morphemes, and trigrams without a recency cut.

- morphemes: the prompt's terms (same analysis as the lines), minus the ones so common
  they carry no signal, OR-ed in `morph_fts`; SQLite's bm25() ranks every match.
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
from core.memory.morphemes import TermSource, fts_query
from core.memory.recall_store import RecallStore

COMMON_SHARE = 0.05  # a morpheme in more than this share of lines is dropped from a query
KEEP_RAREST = 2  # ...unless every term is that common: then the rarest few stay
MAX_TERMS = 24
TRIGRAM_DF_CAP = 4000
TRIGRAM_POOL = 300


def morpheme_terms(analyzer: TermSource, store: RecallStore, prompt: str, lines: int) -> list[str]:
    """The query terms worth matching, rarest first."""
    terms = list(dict.fromkeys(analyzer.terms(prompt)))[:MAX_TERMS]
    if not terms:
        return []
    marks = ",".join("?" * len(terms))
    found = store.query(f"SELECT term, doc FROM morph_vocab WHERE term IN ({marks})", terms)
    docs = sorted((int(doc), term) for term, doc in found if doc)
    limit = max(COMMON_SHARE * lines, 50)
    kept = [term for doc, term in docs if doc <= limit]
    return kept if kept else [term for _, term in docs[:KEEP_RAREST]]


def morpheme_search(store: RecallStore, terms: list[str], n: int) -> list[int]:
    """Line rowids by BM25 over their morphemes, best first."""
    match = fts_query(terms)
    if match is None:
        return []
    rows = store.query(
        "SELECT rowid FROM morph_fts WHERE morph_fts MATCH ? ORDER BY bm25(morph_fts) LIMIT ?",
        (match, n),
    )
    return [r[0] for r in rows]


def trigram_pool(conn: sqlite3.Connection, prompt: str, lines: int) -> tuple[list[str], list[int]]:
    """(terms, candidate rowids): the lines holding the prompt's rarer words, likeliest first."""
    terms = ms.prompt_terms(prompt)
    scores: dict[int, float] = defaultdict(float)
    for term in terms:
        match = ms.phrase_match(term)
        if match is None:
            continue
        rows = conn.execute(
            "SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? LIMIT ?",
            (match, TRIGRAM_DF_CAP + 1),
        ).fetchall()
        if not rows or len(rows) > TRIGRAM_DF_CAP:
            continue
        idf = math.log(1 + (lines - len(rows) + 0.5) / (len(rows) + 0.5))
        for (rowid,) in rows:
            scores[rowid] += idf
    ranked = sorted(scores, key=lambda r: (-scores[r], -r))[:TRIGRAM_POOL]
    return terms, ranked
