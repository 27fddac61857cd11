"""Reading one part file: its clean lines and the statistics insight.json sums up."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from core.memory.archive import PartFile
from core.memory.lines import PartLines, decode_part, parse_lines

TERM_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’…·—–→←✅「」『』《》〈〉"
STOP_TERMS = frozenset(
    "the and of to is in it we you that this with for on are be as at or an not 그리고 하지만 "
    "그런데 그래서 이제 지금 정말 완전히 너는 나는 우리는 이건 그건".split()
)
TOP_TERMS_PER_PART = 40
TERM_CHARS = 2048  # as much of a giant line as the index holds
TERM_SAMPLE = 4  # terms are counted on one line in four: the ranking holds, cheaply


@dataclass
class PartRead:
    """What reading one part gave: its clean lines and a few statistics."""

    rel: str
    day: str
    part: int
    size: int
    mtime_ns: int
    rows: PartLines
    headers: int
    terms: dict[str, int]
    speakers: dict[str, int]


def read_part(part: PartFile) -> PartRead:
    """Read and clean one part (stat taken from the open file); raises OSError if unreadable."""
    with open(part.path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    return part_from_bytes(part, data, stat.st_size, stat.st_mtime_ns)


def part_from_bytes(part: PartFile, data: bytes, size: int, mtime_ns: int) -> PartRead:
    """Parse the bytes of a part file (read, or just written by an append)."""
    rows, headers = parse_lines(decode_part(data))
    return PartRead(
        part.rel, part.day, part.part, size, mtime_ns, rows, headers,
        part_terms(rows.texts), count_speakers(rows.speakers),
    )


def part_terms(texts: list[str]) -> dict[str, int]:
    """The top terms of one part's clean lines: every TERM_SAMPLE-th line, TERM_CHARS each."""
    return count_terms(text[:TERM_CHARS] for text in texts[::TERM_SAMPLE])


def count_terms(texts: Iterable[str]) -> dict[str, int]:
    """The most frequent words (2+ letters, stop words left out) of some lines."""
    counts: Counter[str] = Counter()
    for token, n in Counter("\n".join(texts).split()).items():  # few distinct tokens
        term = token.strip(TERM_PUNCT).casefold()
        if len(term) >= 2 and term[0].isalpha() and term not in STOP_TERMS:
            counts[term] += n
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_TERMS_PER_PART]
    return dict(top)


def count_speakers(speakers: Iterable[str | None]) -> dict[str, int]:
    """Lines per speaker ('unknown' before the first header)."""
    counts: Counter[str] = Counter()
    for speaker, n in Counter(speakers).items():
        counts[speaker or "unknown"] += n
    return dict(counts)
