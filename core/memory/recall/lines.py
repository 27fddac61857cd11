"""Lines read back for recall: their day, part, speaker and text, and the turn around them.

A turn is the run of lines one speaker said in a row (headers are folded into their
turn by the replay, so consecutive lines of one speaker are one turn). Widening a hit
adds up to `radius` lines before and after it from the same turn.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.memory.lines import PartLines
from core.memory.recall.distinct import DistinctTexts, choose_copies
from core.memory.recall.when import line_date
from core.memory.rows import decode_lines, number_of, part_id_of, rowid_of

CACHED_PARTS = 256
PATHS = ("morpheme", "dense", "trigram")


@dataclass(frozen=True)
class RecallHit:
    """One remembered line: where it is, who said it, and its rank in each path."""

    day: str
    part: int
    line: int
    speaker: str
    text: str
    ranks: dict[str, int | None]
    date: str | None = None  # ISO date of the day folder (core/memory/recall/when.py)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for /api/memory/recall."""
        return asdict(self)


@dataclass(frozen=True)
class _Part:
    stamp: tuple[int, int]
    day: str
    part: int
    lines: PartLines
    where: dict[int, int]  # raw line number -> position in `lines`
    date: date | None = None


class PartCache:
    """Decoded parts of the index by id, re-read when a part changes."""

    def __init__(self, db_path: Path, year: int | None = None) -> None:
        self.db_path = db_path
        self.year = year
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._parts: OrderedDict[int, _Part] = OrderedDict()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The read connection to the index, under the lock."""
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(self.db_path, timeout=60, check_same_thread=False)
            yield self._conn

    def line_count(self) -> int:
        """Lines the index holds."""
        try:
            with self.connection() as conn:
                return int(conn.execute("SELECT total(lines) FROM parts").fetchone()[0])
        except sqlite3.Error:
            return 0

    def _load(self, ids: set[int]) -> dict[int, _Part]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self.connection() as conn:
            stamps = conn.execute(
                f"SELECT id, size, mtime_ns FROM parts WHERE id IN ({marks})", sorted(ids)
            ).fetchall()
            stale = [i for i, size, mtime in stamps
                     if (c := self._parts.get(i)) is None or c.stamp != (size, mtime)]
            if stale:
                rows = conn.execute(
                    "SELECT id, size, mtime_ns, day, part, body, numbers, speakers FROM parts "
                    f"WHERE id IN ({','.join('?' * len(stale))})", stale,
                ).fetchall()
                for pid, size, mtime, day, part, *stored in rows:
                    lines = decode_lines(*stored)
                    where = {n: i for i, n in enumerate(lines.numbers)}
                    when = line_date(day, mtime, self.year)
                    self._parts[pid] = _Part((size, mtime), day, part, lines, where, when)
            found = {i: self._parts[i] for i, _, _ in stamps if i in self._parts}
            for i in found:
                self._parts.move_to_end(i)
            while len(self._parts) > CACHED_PARTS:
                self._parts.popitem(last=False)
        return found

    def texts(self, rowids: list[int]) -> dict[int, str]:
        """The text of each rowid that exists."""
        return _texts(self._load({part_id_of(r) for r in rowids}), rowids)

    def dates(self, rowids: list[int]) -> dict[int, date | None]:
        """The date of each rowid's part."""
        parts = self._load({part_id_of(r) for r in rowids})
        return {r: p.date for r in rowids if (p := parts.get(part_id_of(r))) is not None}

    def hits(self, rowids: list[int], ranked: dict[str, list[int]]) -> list[RecallHit]:
        """Hits for the rowids that exist, in order."""
        parts = self._load({part_id_of(r) for r in rowids})
        ranks = _rank_maps(ranked)
        return [h for r in rowids if (h := _hit(parts, r, ranks)) is not None]

    def distinct_copies(
        self, rowids: list[int], scores: dict[int, float], radius: int, head: int
    ) -> list[int]:
        """`rowids` with the identical texts among the first `head` reduced to one copy: the
        one whose turn (itself and up to `radius` neighbours of its speaker) and exchange
        partner score best (core.memory.recall.distinct.choose_copies)."""
        front = rowids[:head]
        parts = self._load({part_id_of(r) for r in front})
        texts = _texts(parts, front)

        def turn_score(rowid: int) -> float:
            around = _neighbours(parts, rowid, radius) + _partner(parts, rowid)
            return scores.get(rowid, 0.0) + sum(scores.get(r, 0.0) for r in around)

        return choose_copies(front, texts, turn_score) + rowids[head:]

    def widened(
        self, rowids: list[int], ranked: dict[str, list[int]], k: int, radius: int,
        hits: int = 1_000_000, *, distinct: bool = True, exchanges: bool = False,
    ) -> list[RecallHit]:
        """The first `k` lines of the hits, the first `hits` of them followed by their
        turn's neighbours (and, with `exchanges`, the other side of their exchange).

        `distinct`: a text (nearly) equal to one already taken is skipped
        (core.memory.recall.distinct).
        """
        ranks = _rank_maps(ranked)
        out: list[RecallHit] = []
        seen: set[int] = set()
        texts = DistinctTexts()
        taken = 0  # hits taken in their own right (not as a neighbour or a partner)
        for start in range(0, len(rowids), k):
            chunk = rowids[start : start + k]
            parts = self._load({part_id_of(r) for r in chunk})
            for rowid in chunk:
                if rowid in seen or (first := _hit(parts, rowid, ranks)) is None:
                    continue
                if distinct and not texts.admit(first.text):
                    seen.add(rowid)
                    continue
                wide = taken < hits
                taken += 1
                extra = _neighbours(parts, rowid, radius if wide else 0)
                if exchanges and wide:
                    extra += _partner(parts, rowid)
                seen.add(rowid)
                out.append(first)
                if len(out) >= k:
                    return out
                for r in extra:
                    if r in seen or (hit := _hit(parts, r, ranks)) is None:
                        continue
                    seen.add(r)
                    if distinct and not texts.admit(hit.text):
                        continue
                    out.append(hit)
                    if len(out) >= k:
                        return out
        return out

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _texts(parts: dict[int, _Part], rowids: list[int]) -> dict[int, str]:
    """The text of each rowid found in `parts`."""
    out: dict[int, str] = {}
    for rowid in rowids:
        part = parts.get(part_id_of(rowid))
        pos = part.where.get(number_of(rowid)) if part else None
        if part is not None and pos is not None:
            out[rowid] = part.lines.texts[pos]
    return out


def _rank_maps(ranked: dict[str, list[int]]) -> dict[str, dict[int, int]]:
    return {path: {r: i for i, r in enumerate(rowids, start=1)} for path, rowids in ranked.items()}


def _hit(parts: dict[int, _Part], rowid: int, ranks: dict[str, dict[int, int]]) -> RecallHit | None:
    part = parts.get(part_id_of(rowid))
    pos = part.where.get(number_of(rowid)) if part else None
    if part is None or pos is None or not part.lines.texts[pos].strip():
        return None  # a blank line (a reply's paragraph break, written escaped) says nothing
    return RecallHit(
        part.day, part.part, number_of(rowid), part.lines.speakers[pos] or "",
        part.lines.texts[pos], {p: ranks[p].get(rowid) if p in ranks else None for p in PATHS},
        part.date.isoformat() if part.date else None,
    )


def _is_question(text: str) -> bool:
    return text.rstrip().endswith(("?", "？"))


def _partner(parts: dict[int, _Part], rowid: int) -> list[int]:
    """The other side of a hit's exchange: for a question, the first line of the other
    speaker's reply after its turn; for a reply, the question that ended the turn before."""
    part_id = part_id_of(rowid)
    part = parts.get(part_id)
    pos = part.where.get(number_of(rowid)) if part else None
    if part is None or pos is None:
        return []
    speakers, texts = part.lines.speakers, part.lines.texts
    speaker = speakers[pos]
    if _is_question(texts[pos]):
        i = pos + 1
        while i < len(speakers) and speakers[i] == speaker:
            i += 1
        return [rowid_of(part_id, part.lines.numbers[i])] if i < len(speakers) else []
    i = pos - 1
    while i >= 0 and speakers[i] == speaker:
        i -= 1
    if i >= 0 and _is_question(texts[i]):
        return [rowid_of(part_id, part.lines.numbers[i])]
    return []


def _neighbours(parts: dict[int, _Part], rowid: int, radius: int) -> list[int]:
    """Rowids of the same speaker's lines around a hit, nearest first (before, then after)."""
    part_id = part_id_of(rowid)
    part = parts.get(part_id)
    pos = part.where.get(number_of(rowid)) if part else None
    if part is None or pos is None or radius <= 0:
        return []
    speaker = part.lines.speakers[pos]
    out: list[int] = []
    for step in (-1, 1):
        i = pos + step
        while abs(i - pos) <= radius and 0 <= i < len(part.lines.numbers):
            if part.lines.speakers[i] != speaker or speaker is None:
                break
            out.append(rowid_of(part_id, part.lines.numbers[i]))
            i += step
    return out
