"""The archive on disk: find the day/part files and order them.

Layout: `memory/dayMMDD/partN.txt` (the origin's archive) and
`memory/dayMMDD/<speaker>/partN.txt` (what the server writes, `user/`). Guests' turns live
in `memory/guests/<name>/dayMMDD/partN.txt`: a tree of their own that the origin's replay,
recall and training never read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DAY_RE = re.compile(r"day(\d{4})")
PART_RE = re.compile(r"part(\d+)\.txt")
GUESTS = "guests"  # memory/guests/<name>/: each guest's own tree, never the origin's archive
IGNORED_ROOT_NAMES = frozenset({"insight.json", GUESTS})


@dataclass(frozen=True)
class PartFile:
    """One part file of the archive, with what its place in the tree says."""

    path: Path
    rel: str  # relative to the memory root, with '/' separators
    day: str
    part: int
    folder: str = ""  # '' for memory/dayMMDD/partN.txt, else the speaker folder

    @property
    def sort_key(self) -> tuple[int, str, str, int]:
        """Days by number, depth-1 parts before speaker folders, parts by number."""
        return (int(self.day[3:]), self.day, self.folder, self.part)


@dataclass(frozen=True)
class Skipped:
    """Something the replay did not read, and why."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """JSON form for insight.json."""
        return {"path": self.path, "reason": self.reason}


def discover(memory_dir: Path) -> tuple[list[PartFile], list[Skipped]]:
    """Every part file at depth 1 or 2 of the day folders, in order, and what was skipped."""
    root = memory_dir.resolve()
    parts: list[PartFile] = []
    skipped: list[Skipped] = []
    if not root.is_dir():
        return parts, skipped
    for entry in _entries(root, "", skipped):
        rel = entry.name
        if entry.name.startswith(".") or entry.name in IGNORED_ROOT_NAMES:
            continue
        if not DAY_RE.fullmatch(entry.name) or not entry.is_dir():
            skipped.append(Skipped(rel, "not a day folder (dayMMDD)"))
        elif entry.is_symlink() and not _inside(root, entry.path):
            skipped.append(Skipped(rel, "symlink leads outside the memory root"))
        else:
            _scan_day(root, Path(entry.path), entry.name, parts, skipped)
    parts.sort(key=lambda p: p.sort_key)
    return parts, skipped


def _entries(root: Path, rel: str, skipped: list[Skipped]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(root / rel if rel else root) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        skipped.append(Skipped(rel or ".", f"unreadable folder: {exc.strerror or exc}"))
        return []


def _scan_day(
    root: Path, folder: Path, day: str, parts: list[PartFile], skipped: list[Skipped]
) -> None:
    entries = _entries(root, day, skipped)
    if not entries:
        skipped.append(Skipped(day, "empty folder"))
    for entry in entries:
        rel = f"{day}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            sub = _entries(root, rel, skipped)
            if not sub:
                skipped.append(Skipped(rel, "empty folder"))
            for inner in sub:
                _add_part(root, inner, f"{rel}/{inner.name}", day, entry.name, parts, skipped)
        else:
            _add_part(root, entry, rel, day, "", parts, skipped)


def _add_part(
    root: Path,
    entry: os.DirEntry[str],
    rel: str,
    day: str,
    folder: str,
    parts: list[PartFile],
    skipped: list[Skipped],
) -> None:
    match = PART_RE.fullmatch(entry.name)
    if entry.name.startswith("."):
        return  # hidden files (temporary files of an append in progress, .gitkeep)
    if match is None:
        reason = "folder too deep" if entry.is_dir(follow_symlinks=False) else "not a part file"
        skipped.append(Skipped(rel, reason))
        return
    if entry.is_symlink():
        if not _inside(root, entry.path):
            skipped.append(Skipped(rel, "symlink leads outside the memory root"))
            return
        if not os.path.exists(entry.path):
            skipped.append(Skipped(rel, "unreadable: broken symlink"))
            return
    if not entry.is_file():
        skipped.append(Skipped(rel, "not a regular file"))
        return
    parts.append(PartFile(Path(entry.path), rel, day, int(match.group(1)), folder))


def _inside(root: Path, path: str) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(root)
    except (OSError, ValueError):
        return False


def order_days(days: Iterable[str]) -> list[str]:
    """Distinct day folder names, in order (by number, then by name)."""
    return sorted(set(days), key=lambda d: (int(d[3:]), d))
