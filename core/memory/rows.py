"""Rows of the memory index: its tables, search hits, part records, how lines are stored.

Every indexed line has a rowid: its part's id shifted left by LINE_BITS, or-ed with its
raw line number in the part file.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import groupby
from typing import Any, NamedTuple

from core.memory.lines import PartLines

INDEX_CHARS = 2048
LINE_BITS = 24
SCHEMA_VERSION = 3
PART_COLUMNS = "id, path, day, part, size, mtime_ns, lines, headers, stats"
# The trigram index is FTS_SHARDS tables, a part's lines in table `part id % FTS_SHARDS`:
# forgetting a line merges the segments of one table (forget/scrub.py), ~1/16 of the index
# (0.05 s instead of ~0.6-1 s at 300k lines), and a search asks every table.
FTS_SHARDS = 16
FTS_TABLES = tuple(f"lines_fts{i}" for i in range(FTS_SHARDS))
FTS_KIND = "fts5(text, tokenize='trigram', content='', detail=none, columnsize=0)"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS parts(
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, day TEXT NOT NULL, part INTEGER NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, lines INTEGER NOT NULL,
    headers INTEGER NOT NULL, stats TEXT NOT NULL,
    body TEXT NOT NULL, numbers BLOB NOT NULL, speakers TEXT NOT NULL);
{"".join(f"CREATE VIRTUAL TABLE IF NOT EXISTS {t} USING {FTS_KIND};" for t in FTS_TABLES)}
CREATE TABLE IF NOT EXISTS turns(
    key TEXT PRIMARY KEY, path TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    digest TEXT NOT NULL, done INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class SearchHit:
    """One remembered line: where it is and what it says."""

    day: str
    part: int
    line: int
    text: str
    path: str
    speaker: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form for /api/memory/search."""
        return asdict(self)


@dataclass(frozen=True)
class PartRow:
    """What the index knows of one part file."""

    id: int
    path: str
    day: str
    part: int
    size: int
    mtime_ns: int
    lines: int
    headers: int
    stats: str


class Candidate(NamedTuple):
    """A line read back from the index for ranking: its rowid, speaker and text."""

    rowid: int
    speaker: str | None
    text: str


def rowid_of(part_id: int, number: int) -> int:
    """The FTS rowid of line `number` of part `part_id`."""
    return (part_id << LINE_BITS) | number


def part_id_of(rowid: int) -> int:
    """The part id a rowid belongs to."""
    return rowid >> LINE_BITS


def number_of(rowid: int) -> int:
    """The raw line number (1-based) a rowid names inside its part."""
    return rowid & ((1 << LINE_BITS) - 1)


def fts_text(text: str) -> str:
    """At most INDEX_CHARS characters of a line go into the FTS index."""
    return text if len(text) <= INDEX_CHARS else text[:INDEX_CHARS]


def encode_lines(lines: PartLines) -> tuple[str, bytes, str]:
    """A part's clean lines as (body, raw line numbers, speaker runs)."""
    runs = [[speaker, len(list(run))] for speaker, run in groupby(lines.speakers)]
    body = "\n".join(lines.texts)
    return body, array("I", lines.numbers).tobytes(), json.dumps(runs, ensure_ascii=False)


def decode_lines(body: str, numbers: bytes, speakers: str) -> PartLines:
    """The inverse of encode_lines: the stored lines of one part."""
    if not numbers:
        return PartLines()
    who: list[str | None] = []
    for speaker, count in json.loads(speakers):
        who.extend([speaker] * count)
    return PartLines(array("I", numbers).tolist(), who, body.split("\n"))


def fts_table(part_id: int) -> str:
    """The trigram table that holds a part's lines."""
    return FTS_TABLES[part_id % FTS_SHARDS]


def fts_rowids(conn: Any, match: str, limit: int, newest: bool = False) -> list[int]:
    """Rowids of lines matching an FTS5 query, from every trigram table: at most `limit`,
    the newest first with `newest` (else in no set order, stopping once past `limit`)."""
    order = " ORDER BY rowid DESC" if newest else ""
    found: list[int] = []
    for table in FTS_TABLES:
        found += [r for (r,) in conn.execute(
            f"SELECT rowid FROM {table} WHERE {table} MATCH ?{order} LIMIT ?", (match, limit))]
        if not newest and len(found) >= limit:
            break
    if newest:
        found.sort(reverse=True)
    return found[:limit]


def fts_rows(part_id: int, lines: PartLines) -> list[tuple[int, str]]:
    """(rowid, indexed text) of every line of one part."""
    base = rowid_of(part_id, 0)
    return [(base + n, fts_text(text)) for n, text in zip(lines.numbers, lines.texts, strict=True)]


def candidates(
    part_id: int, lines: PartLines, keep: Callable[[int, str], bool]
) -> Iterator[Candidate]:
    """The lines of one part that `keep(rowid, text)` accepts, as ranking candidates."""
    base = rowid_of(part_id, 0)
    for n, speaker, text in zip(lines.numbers, lines.speakers, lines.texts, strict=True):
        if keep(base + n, text):
            yield Candidate(base + n, speaker, text)
