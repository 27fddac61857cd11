"""Which physical lines a forget replaces, and the part's bytes with them tombstoned.

A line is named by its part (path relative to the memory root, `dayMMDD/partN.txt` or
`dayMMDD/<folder>/partN.txt`) and its 1-based physical line number, as search and recall
report it. A turn is the run of lines one speaker said: its header (the last header at or
above the line) down to the line before the next header, inside one part file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInput, NotFound
from core.memory.archive import GUESTS
from core.memory.lines import TOMBSTONE, clean_line, parse_header

PART_PATH_RE = re.compile(r"(day\d{4})(?:/([A-Za-z0-9_-]{1,64}))?/part([1-9]\d{0,8})\.txt")
MAX_LINE = 10_000_000
_TOMB = TOMBSTONE.encode("utf-8")


@dataclass(frozen=True)
class Target:
    """A part file of the origin's archive, named relative to the memory root."""

    rel: str
    day: str
    folder: str
    part: int


def parse_target(rel: str) -> Target:
    """Check a part path (`dayMMDD[/folder]/partN.txt`); BadInput when it is not one."""
    rel = rel.strip().strip("/")
    match = PART_PATH_RE.fullmatch(rel)
    if match is None or match.group(2) == GUESTS:
        raise BadInput(
            f"not a part path: {rel[:80]!r}; expected dayMMDD/partN.txt or "
            "dayMMDD/user/partN.txt (as search results name them)",
            f"파트 경로가 아닙니다: {rel[:80]!r}. dayMMDD/partN.txt 또는 "
            "dayMMDD/user/partN.txt 형식이어야 합니다 (검색 결과에 나오는 그대로).",
        )
    return Target(rel, match.group(1), match.group(2) or "", int(match.group(3)))


def part_file(memory_dir: Path, target: Target) -> Path:
    """The part's file inside the memory root; NotFound when it is not a regular file there."""
    path = Path(memory_dir) / target.rel
    root = Path(memory_dir).resolve()
    try:
        inside = path.resolve().is_relative_to(root)
    except OSError:
        inside = False
    if not inside or path.is_symlink() or not path.is_file():
        raise NotFound(
            f"no part {target.rel} in the archive", f"아카이브에 {target.rel} 파트가 없습니다."
        )
    return path


def physical_lines(data: bytes) -> list[bytes]:
    """The part's physical lines (split on \\n, as the replay numbers them), endings dropped."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def is_tombstone(raw: bytes) -> bool:
    """Whether a physical line is a forgotten line's tombstone."""
    return raw.rstrip(b"\r").strip() == _TOMB


def _kind(raw: bytes) -> str:
    """'text', 'header', or 'empty' (blank, copy debris, a tombstone)."""
    clean = clean_line(raw)
    if clean is None:
        return "empty"
    if clean.endswith(":") and parse_header(clean) is not None:
        return "header"
    return "text"


def plan_lines(data: bytes, rel: str, numbers: list[int], turn: bool) -> list[int]:
    """The physical line numbers to tombstone for these lines (or their whole turns)."""
    lines = physical_lines(data)
    chosen: set[int] = set()
    for number in numbers:
        if not 1 <= number <= len(lines):
            raise NotFound(
                f"{rel} has no line {number} (it has {len(lines)})",
                f"{rel}에는 {number}번째 줄이 없습니다 ({len(lines)}줄).",
            )
        kind = _kind(lines[number - 1])
        if turn:
            chosen.update(_turn_of(lines, number))
        elif kind == "header":
            raise BadInput(
                f"line {number} of {rel} is a speaker header: forget the whole turn instead "
                "(--turn, or the turns route)",
                f"{rel}의 {number}번째 줄은 화자 머리줄입니다. 대화 차례 전체를 잊으세요 "
                "(--turn 또는 turns 경로).",
            )
        elif kind == "text":
            chosen.add(number)
    chosen = {n for n in chosen if _kind(lines[n - 1]) != "empty"}
    if not chosen:
        raise NotFound(
            f"nothing to forget at {rel} line(s) {', '.join(map(str, numbers))}: "
            "blank or already forgotten",
            f"{rel}의 해당 줄에는 잊을 내용이 없습니다 (빈 줄이거나 이미 잊은 줄).",
        )
    return sorted(chosen)


def _turn_of(lines: list[bytes], number: int) -> list[int]:
    """The turn holding line `number`: from its header down to the next header."""
    start = number
    while start > 1 and _kind(lines[start - 1]) != "header":
        start -= 1
    end = number
    while end < len(lines) and _kind(lines[end]) != "header":
        end += 1
    return list(range(start, end + 1))


def tombstoned(data: bytes, numbers: list[int]) -> bytes:
    """The part's bytes with these physical lines replaced by the tombstone."""
    lines = data.split(b"\n")
    for number in numbers:
        if number - 1 < len(lines) and lines[number - 1] and not is_tombstone(lines[number - 1]):
            cr = b"\r" if lines[number - 1].endswith(b"\r") else b""
            lines[number - 1] = _TOMB + cr
    return b"\n".join(lines)


def all_tombstoned(data: bytes, numbers: list[int]) -> bool:
    """Whether every one of these physical lines is a tombstone (a forget landed)."""
    lines = physical_lines(data)
    return all(n - 1 < len(lines) and is_tombstone(lines[n - 1]) for n in numbers)
