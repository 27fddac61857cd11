"""Today's recall path, kept here to compare against: `MemoryIndex.context_for` as of 5f19089.

A prompt's terms (words of 2+ characters, a Korean particle trimmed, the 10 longest) are
OR-ed as trigram FTS5 phrases; the newest CANDIDATES matching lines (by rowid, i.e. the
latest parts) are read back and ranked by a hand-written BM25 (core/memory/search.py's
`rank_terms` of that commit, copied below). Terms shorter than 3 characters fall back to a
LIKE scan of the newest 500 lines. The engine replaces this path; the copy keeps the
benchmark's baseline from moving with it. It reads the index's `parts` and `lines_fts`
tables directly.
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from core.memory.rows import candidates, decode_lines, number_of, part_id_of

CANDIDATES = 2000
MAX_TRIGRAMS = 16
MAX_TERMS = 10
WORD_RE = re.compile(r"\w+")
KO_PARTICLES = ("에서", "으로", "에게", "까지", "부터", "은", "는", "이", "가", "을", "를", "의",
                "에", "로", "도", "와", "과", "야", "아")


class Row(NamedTuple):
    """A candidate line: rowid and text."""

    rowid: int
    text: str


def normalize_query(text: str) -> str:
    """NFC, control characters dropped, outer whitespace stripped."""
    text = "".join(ch for ch in text if ch >= " " or ch == "\t")
    return unicodedata.normalize("NFC", text).strip()


def phrase_match(phrase: str) -> str | None:
    """An FTS5 expression every line containing `phrase` matches (None if < 3 chars)."""
    folded = phrase.casefold()
    if len(folded) < 3:
        return None
    grams = [folded[i : i + 3] for i in range(0, len(folded) - 2)]
    if len(grams) > MAX_TRIGRAMS:
        step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
        grams = [grams[round(i * step)] for i in range(MAX_TRIGRAMS)]
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in dict.fromkeys(grams))


def prompt_terms(prompt: str) -> list[str]:
    """Distinct search terms of a prompt, longest first (Korean particles trimmed)."""
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


def rank_terms(rows: list[Row], terms: list[str], total: int, k: int) -> list[Row]:
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


class LegacyRecall:
    """`context_for(prompt, k)` over an index built by the replay; hits as (day, part, line)."""

    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(db_path, check_same_thread=False)
        self.parts = {pid: (day, part) for pid, day, part in
                      self.conn.execute("SELECT id, day, part FROM parts")}
        self.total = max(int(self.conn.execute("SELECT total(lines) FROM parts").fetchone()[0]),
                         1)

    def recall(self, prompt: str, k: int = 10) -> list[tuple[str, int, int]]:
        """The lines today's path gives a prompt, best first."""
        terms = prompt_terms(prompt)
        if not terms or k <= 0:
            return []
        match = any_match(terms)
        rows = self._candidates(match) if match else self._like(terms, 500)
        ranked = rank_terms(rows, terms, self.total, k)
        return [(*self.parts[part_id_of(r.rowid)], number_of(r.rowid)) for r in ranked]

    def _candidates(self, match: str) -> list[Row]:
        found = [r[0] for r in self.conn.execute(
            "SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
            (match, CANDIDATES))]
        wanted = sorted({part_id_of(rowid) for rowid in found})
        if not wanted:
            return []
        asked = set(found)
        texts: dict[int, str] = {}
        marks = ",".join("?" * len(wanted))
        for part_id, *stored in self.conn.execute(
            f"SELECT id, body, numbers, speakers FROM parts WHERE id IN ({marks})", wanted
        ):
            for c in candidates(part_id, decode_lines(*stored), lambda r, _: r in asked):
                texts[c.rowid] = c.text
        return [Row(rowid, texts[rowid]) for rowid in found if rowid in texts]

    def _like(self, needles: list[str], limit: int) -> list[Row]:
        def pattern(text: str) -> str:
            return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        where = " OR ".join("body LIKE ? ESCAPE '\\'" for _ in needles)
        folded = [n.casefold() for n in needles]
        rows: list[Row] = []
        for part_id, *stored in self.conn.execute(
            f"SELECT id, body, numbers, speakers FROM parts WHERE {where} ORDER BY id DESC "
            "LIMIT ?", (*(pattern(n) for n in needles), limit)
        ):
            found = candidates(part_id, decode_lines(*stored),
                               lambda _, text: any(n in text.casefold() for n in folded))
            rows.extend(Row(c.rowid, c.text) for c in reversed(list(found)))
        return rows[:limit]

    def close(self) -> None:
        """Close the database."""
        self.conn.close()
