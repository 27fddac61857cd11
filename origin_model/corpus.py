"""The archive as conversation turns: the one place that imports the replay's reader.

Lines come through the replay's own reader (both layouts, clean lines, speakers);
token values are redacted exactly as in saved turns.
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


def _turns(
    rel: str, rows: PartLines, settings: Settings, stats: ArchiveStats
) -> Iterator[Turn]:
    index = 0
    lines: list[str] = []
    speaker: str | None = None
    for _, who, text in rows:
        if lines and who != speaker:
            yield Turn(rel, index, role_of(speaker), redact("\n".join(lines), settings), index == 0)
            stats.turns += 1
            index += 1
            lines = []
        speaker = who
        lines.append(text)
    if lines:
        yield Turn(rel, index, role_of(speaker), redact("\n".join(lines), settings), index == 0)
        stats.turns += 1
