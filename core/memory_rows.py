"""Rows of the memory index: search hits, part records, how a part's lines are stored."""

from __future__ import annotations

import json
from array import array
from dataclasses import asdict, dataclass
from typing import Any

INDEX_CHARS = 2048


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


def fts_text(text: str) -> str:
    """At most INDEX_CHARS characters of a line go into the FTS index."""
    return text if len(text) <= INDEX_CHARS else text[:INDEX_CHARS]


def encode_lines(rows: list[tuple[int, str | None, str]]) -> tuple[str, bytes, str]:
    """A part's clean lines as (body, raw line numbers, speaker runs)."""
    body = "\n".join(text for _, _, text in rows)
    numbers = array("I", [number for number, _, _ in rows]).tobytes()
    runs: list[list[Any]] = []
    for _, speaker, _ in rows:
        if runs and runs[-1][0] == speaker:
            runs[-1][1] += 1
        else:
            runs.append([speaker, 1])
    return body, numbers, json.dumps(runs, ensure_ascii=False)


def decode_lines(body: str, numbers: bytes, speakers: str) -> list[tuple[int, str | None, str]]:
    """The inverse of encode_lines: (raw line number, speaker, text) of each line."""
    if not numbers:
        return []
    who: list[str | None] = []
    for speaker, count in json.loads(speakers):
        who.extend([speaker] * count)
    return list(zip(array("I", numbers), who, body.split("\n"), strict=True))
