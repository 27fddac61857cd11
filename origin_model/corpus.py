"""The archive as conversation turns: the one place that imports the replay's reader.

Lines come through the replay's own reader (both layouts, clean lines, speakers);
token values are redacted exactly as in saved turns. Only the origin's archive: guests'
trees (`memory/guests/`) are not part of it (`discover` never enters them), a guest's turn
found in the origin's tree is left out with the replies that answer it, and a forgotten
line is a tombstone the reader drops.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.memory.archive import discover
from core.memory.lines import PartLines
from core.memory.read import read_part
from core.origin import redact
from core.settings import Settings

ORIGIN_SPEAKERS = frozenset({"origin", None})
GUEST_SPEAKERS = ("guest:", "손님")  # a guest's header '손님 <name>의 말:' (core/memory/lines.py)


@dataclass(frozen=True)
class Turn:
    """Consecutive lines of one speaker in one part file."""

    part: str  # the part's path relative to the memory root
    index: int  # the turn's ordinal inside its part
    role: str  # 'user' (the origin) or 'assistant' (anyone else)
    text: str
    first: bool  # the first turn of its part (a conversation starts: BOS)


@dataclass
class ArchiveStats:
    """What reading the archive found."""

    parts: int = 0
    lines: int = 0
    turns: int = 0
    skipped: int = 0


def role_of(speaker: str | None) -> str:
    """The chat role of a speaker: the origin (or an unnamed speaker) is the user."""
    return "user" if speaker in ORIGIN_SPEAKERS else "assistant"


def iter_turns(memory_dir: Path, settings: Settings, stats: ArchiveStats) -> Iterator[Turn]:
    """Every turn of the archive in replay order, tokens redacted; unreadable parts skipped."""
    parts, skipped = discover(memory_dir)
    stats.skipped += len(skipped)
    for part in parts:
        try:
            rows = read_part(part).rows
        except OSError:
            stats.skipped += 1
            continue
        stats.parts += 1
        stats.lines += len(rows)
        yield from _turns(part.rel, rows, settings, stats)


def is_guest(speaker: str | None) -> bool:
    """Whether a speaker is a guest (never the origin, never learned from)."""
    return speaker is not None and speaker.startswith(GUEST_SPEAKERS)


def _turns(
    rel: str, rows: PartLines, settings: Settings, stats: ArchiveStats
) -> Iterator[Turn]:
    index = 0
    for speaker, lines in _runs(rows):
        yield Turn(rel, index, role_of(speaker), redact("\n".join(lines), settings), index == 0)
        stats.turns += 1
        index += 1


def _runs(rows: PartLines) -> Iterator[tuple[str | None, list[str]]]:
    """Runs of one speaker's lines; a guest's runs and the replies to them left out."""
    lines: list[str] = []
    speaker: str | None = None
    guest_asked = False
    for _, who, text in rows:
        if lines and who != speaker:
            if not guest_asked:
                yield speaker, lines
            lines = []
        if who != speaker and (is_guest(who) or role_of(who) == "user"):
            guest_asked = is_guest(who)
        speaker = who
        lines.append(text)
    if lines and not guest_asked:
        yield speaker, lines
