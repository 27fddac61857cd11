"""Write retrieval-set turns as a memory archive, and know where each line landed.

The archive has the origin's format (SPEC §7): `memory/dayNNNN/partN.txt`, at most
PART_LINES raw lines a part, a header line (`나의 말:`, `Caroline의 말:`) opening each turn.
A turn is never split between parts; a turn with a time (`when`) gives its part file that
modification time, so the engine reads the year of its `dayMMDD` folder as the memory does
(core/memory/recall/when.py). Which raw lines survive the replay's cleaning is
asked of the replay's own parser (`parse_lines`), so a relevant line is named exactly as
the index numbers it: (day, part, 1-based raw line number in the part file).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from core.memory.lines import parse_lines

PART_LINES = 395


class LineRef(NamedTuple):
    """Where one clean line of the archive is: day folder, part number, raw line number."""

    day: str
    part: int
    line: int


@dataclass(frozen=True)
class Turn:
    """One speaker's turn: its day folder, header line, text lines, a key to find it by, and
    when it was said (None: the part file keeps the time it is written)."""

    day: str
    header: str
    lines: tuple[str, ...]
    key: Hashable
    when: datetime | None = None


@dataclass
class Written:
    """What `write_archive` wrote: the kept lines of each turn key, and totals."""

    refs: dict[Hashable, list[LineRef]]
    texts: dict[LineRef, str]
    parts: int = 0
    raw_lines: int = 0
    changed: int = 0  # part files written or removed (0: the archive was already there)

    @property
    def reused(self) -> bool:
        """Whether every part was already on disk as planned (index and vectors reusable)."""
        return self.changed == 0


def write_archive(memory: Path, turns: Iterable[Turn]) -> Written:
    """Write `turns` in order under `memory`; afterwards it holds exactly these parts.

    A part file that already holds its planned text is left untouched (same size and
    mtime), so the replay, morphemes and vectors of a previous run are reused for it;
    part files not in the plan are removed.
    """
    written = Written({}, {})
    planned: set[Path] = set()
    for day, number, batch in _plan(turns):
        planned.add(_flush(memory, day, number, batch, written))
    if memory.is_dir():
        for stale in sorted(set(memory.glob("day*/part*.txt")) - planned):
            stale.unlink()
            written.changed += 1
    return written


def _plan(turns: Iterable[Turn]) -> Iterator[tuple[str, int, list[Turn]]]:
    """(day, part number, turns) of each part: a new part per day (and per time said), or
    when one is full; a day folder met again later goes on with its next part number."""
    last: dict[str, int] = {}
    at: tuple[str, datetime | None] | None = None
    batch: list[Turn] = []
    size = 0
    for turn in turns:
        need = 1 + len(turn.lines)
        if (turn.day, turn.when) != at or (batch and size + need > PART_LINES):
            if batch:
                yield batch[0].day, last[batch[0].day], batch
            last[turn.day] = last.get(turn.day, 0) + 1
            at, batch, size = (turn.day, turn.when), [], 0
        batch.append(turn)
        size += need
    if batch:
        yield batch[0].day, last[batch[0].day], batch


def _flush(memory: Path, day: str, number: int, batch: list[Turn], written: Written) -> Path:
    raw: list[str] = []
    owners: dict[int, Hashable] = {}
    for turn in batch:
        raw.append(turn.header)
        for line in turn.lines:
            raw.append(line)
            owners[len(raw)] = turn.key
    text = "\n".join(raw) + "\n"
    path = memory / day / f"part{number}.txt"
    try:
        same = path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.changed += 1
    if (when := batch[0].when) is not None and path.stat().st_mtime_ns != (
            stamp := int(when.timestamp()) * 1_000_000_000):
        os.utime(path, ns=(stamp, stamp))
        written.changed += 1
    kept, _headers = parse_lines(text)
    for line_number, clean in zip(kept.numbers, kept.texts, strict=True):
        key = owners.get(line_number)
        if key is None:
            continue
        ref = LineRef(day, number, line_number)
        written.refs.setdefault(key, []).append(ref)
        written.texts[ref] = clean
    written.parts += 1
    written.raw_lines += len(raw)
    return path
