"""Today's recall path, kept here to compare against: `MemoryIndex.context_for` as of 5f19089.

A prompt's terms (words of 2+ characters, a Korean particle trimmed, the 10 longest) are
OR-ed as trigram FTS5 phrases; the newest CANDIDATES matching lines (by rowid, i.e. the
latest parts) are read back and ranked by a hand-written BM25 (core/memory/search.py's
`rank_terms`, unchanged since that commit). Terms shorter than 3 characters fall back to a
LIKE scan of the newest 500 lines. The engine replaces this path; the copy keeps the
benchmark's baseline from moving with it; the query building and ranking it calls
in core/memory/search.py are today's and must stay so. It reads the index's `parts` and
trigram tables directly.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.memory.rows import (
    Candidate,
    candidates,
    decode_lines,
    fts_rowids,
    number_of,
    part_id_of,
)
from core.memory.search import any_match, like_pattern, prompt_terms, rank_terms

CANDIDATES = 2000


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

    def _candidates(self, match: str) -> list[Candidate]:
        found = fts_rowids(self.conn, match, CANDIDATES, newest=True)
        wanted = sorted({part_id_of(rowid) for rowid in found})
        if not wanted:
            return []
        asked = set(found)
        rows: dict[int, Candidate] = {}
        marks = ",".join("?" * len(wanted))
        for part_id, *stored in self.conn.execute(
            f"SELECT id, body, numbers, speakers FROM parts WHERE id IN ({marks})", wanted
        ):
            for c in candidates(part_id, decode_lines(*stored), lambda r, _: r in asked):
                rows[c.rowid] = c
        return [rows[rowid] for rowid in found if rowid in rows]

    def _like(self, needles: list[str], limit: int) -> list[Candidate]:
        where = " OR ".join("body LIKE ? ESCAPE '\\'" for _ in needles)
        folded = [n.casefold() for n in needles]
        rows: list[Candidate] = []
        for part_id, *stored in self.conn.execute(
            f"SELECT id, body, numbers, speakers FROM parts WHERE {where} ORDER BY id DESC "
            "LIMIT ?", (*(like_pattern(n) for n in needles), limit)
        ):
            found = candidates(part_id, decode_lines(*stored),
                               lambda _, text: any(n in text.casefold() for n in folded))
            rows.extend(reversed(list(found)))
        return rows[:limit]

    def close(self) -> None:
        """Close the database."""
        self.conn.close()
