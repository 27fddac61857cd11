"""Write retrieval-set turns as a memory archive, and know where each line landed.

The archive has the origin's format (SPEC §7): `memory/dayNNNN/partN.txt`, at most
PART_LINES raw lines a part, a header line (`나의 말:`, `Caroline의 말:`) opening each turn.
A turn is never split between parts. Which raw lines survive the replay's cleaning is
asked of the replay's own parser (`parse_lines`), so a relevant line is named exactly as
the index numbers it: (day, part, 1-based raw line number in the part file).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
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
    """One speaker's turn: its day folder, header line, text lines and a key to find it by."""

    day: str
    header: str
    lines: tuple[str, ...]
    key: Hashable


@dataclass
class Written:
    """What `write_archive` wrote: the kept lines of each turn key, and totals."""

    refs: dict[Hashable, list[LineRef]]
    texts: dict[LineRef, str]
    parts: int
    raw_lines: int
    reused: bool = False


def write_archive(memory: Path, turns: Iterable[Turn]) -> Written:
    """Write `turns` in order under `memory`, replacing what it held.

    When the folder already holds exactly these turns (a digest beside it says so), the
    files are left untouched, so the replay, morphemes and vectors of a previous run are
    reused (the index sees every part unchanged).
    """
    turns = list(turns)
    digest = hashlib.sha256(repr([(t.day, t.header, t.lines) for t in turns]).encode())
    stamp = memory.parent / f"{memory.name}.sha256"
    reuse = memory.is_dir() and stamp.is_file() and stamp.read_text() == digest.hexdigest()
    if not reuse:
        shutil.rmtree(memory, ignore_errors=True)
        stamp.unlink(missing_ok=True)
    memory.mkdir(parents=True, exist_ok=True)
    written = Written({}, {}, 0, 0, reused=reuse)
    day: str | None = None
    number = 0
    batch: list[Turn] = []
    size = 0
    for turn in turns:
        need = 1 + len(turn.lines)
        if turn.day != day or (batch and size + need > PART_LINES):
            if batch:
                _flush(memory, day or "", number, batch, written)
            number = 1 if turn.day != day else number + 1
            day, batch, size = turn.day, [], 0
        batch.append(turn)
        size += need
    if batch:
        _flush(memory, day or "", number, batch, written)
    stamp.write_text(digest.hexdigest())
    return written


def _flush(memory: Path, day: str, number: int, batch: list[Turn], written: Written) -> None:
    raw: list[str] = []
    owners: dict[int, Hashable] = {}
    for turn in batch:
        raw.append(turn.header)
        for line in turn.lines:
            raw.append(line)
            owners[len(raw)] = turn.key
    text = "\n".join(raw) + "\n"
    if not written.reused:
        folder = memory / day
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part{number}.txt").write_text(text, encoding="utf-8")
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
