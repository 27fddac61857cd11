"""Query building and ranking for the memory index (trigram FTS5, detail=none).

The FTS table stores only which lines hold which trigrams (no positions, no text), so
a phrase becomes an AND of its trigrams; candidates are then verified against the
stored line and ranked here, BM25-style.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable

from core.memory.rows import Candidate

MAX_TRIGRAMS = 16
MAX_TERMS = 10
WORD_RE = re.compile(r"\w+")
KO_PARTICLES = ("에서", "으로", "에게", "까지", "부터", "은", "는", "이", "가", "을", "를", "의",
                "에", "로", "도", "와", "과", "야", "아")


def normalize_query(text: str) -> str:
    """NFC, control characters dropped, outer whitespace stripped."""
    text = "".join(ch for ch in text if ch >= " " or ch == "\t")
    return unicodedata.normalize("NFC", text).strip()


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def phrase_match(phrase: str) -> str | None:
    """An FTS5 expression that every line containing `phrase` matches (None if < 3 chars)."""
    folded = phrase.casefold()
    if len(folded) < 3:
        return None
    grams = [folded[i : i + 3] for i in range(0, len(folded) - 2)]
    if len(grams) > MAX_TRIGRAMS:  # a spread of trigrams; verification keeps it exact
        step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
        grams = [grams[round(i * step)] for i in range(MAX_TRIGRAMS)]
    return " AND ".join(_quote(g) for g in dict.fromkeys(grams))


def prompt_terms(prompt: str) -> list[str]:
    """Distinct search terms of a free-form prompt, longest first (Korean particles trimmed)."""
    terms: dict[str, None] = {}
    for word in WORD_RE.findall(normalize_query(prompt).casefold()):
        for particle in KO_PARTICLES:
            if word.endswith(particle) and len(word) - len(particle) >= 2:
                word = word[: -len(particle)]
                break
        if len(word) >= 2 and not word.isdigit():
            terms[word] = None
    return sorted(terms, key=len, reverse=True)[:MAX_TERMS]


def any_match(terms: Iterable[str]) -> str | None:
    """An FTS5 expression matching lines that hold any of the terms (3+ chars)."""
    groups = [f"({m})" for t in terms if (m := phrase_match(t)) is not None]
    return " OR ".join(groups) if groups else None


def like_pattern(text: str) -> str:
    """A LIKE pattern for `text` anywhere, with the wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def rank_phrase(rows: list[Candidate], phrase: str, k: int) -> list[Candidate]:
    """Rows that really contain the phrase, most occurrences and shortest first, then newest."""
    needle = phrase.casefold()
    scored = []
    for row in rows:
        count = row.text.casefold().count(needle)
        if count:
            scored.append((-count / math.log2(len(row.text) + 2), -row.rowid, row))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [s[2] for s in scored[:k]]


def rank_terms(rows: list[Candidate], terms: list[str], total: int, k: int) -> list[Candidate]:
    """BM25 over the candidate rows for the OR of `terms`; best first, newest on ties."""
    if not rows:
        return []
    folded = [(row, row.text.casefold()) for row in rows]
    avg = sum(len(text) for _, text in folded) / len(folded) or 1.0
    df = {t: sum(1 for _, text in folded if t in text) for t in terms}
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in df.items() if n}
    scored = []
    for row, text in folded:
        norm = 1.2 * (0.25 + 0.75 * len(text) / avg)
        score = 0.0
        for term, weight in idf.items():
            tf = text.count(term)
            if tf:
                score += weight * tf * 2.2 / (tf + norm)
        if score > 0:
            scored.append((-score, -row.rowid, row))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [s[2] for s in scored[:k]]
