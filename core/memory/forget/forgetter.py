"""Forgetting, in order: intent, commit, everything derived, audit.

A line (or a turn) of the origin's archive:
1. under the memory root's folder lock (appends and the replay wait), the part is read and
   the lines to forget are chosen; the intent (ids only) is journaled and fsynced;
2. the part is rewritten with tombstones (temp + fsync + rename): the commit point;
3. the backup mirror gets the same tombstones, the index and the recall database drop the
   lines, the graph file's copies of their vectors are wiped, the logs are checkpointed;
4. the audit record is appended and the intent removed.
A guest's tree: its backup mirror, then the tree itself, are renamed to hidden folders
(the second rename is the commit point) and deleted.

`kill -9` at any moment: the next `recover()` (every start and replay runs it) completes a
committed forget and drops one that was not; no other line is touched.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import BadInput, NotFound
from core.fsio import atomic_write, folder_lock, fsync_dir
from core.memory.archive import GUESTS, PartFile
from core.memory.forget import journal
from core.memory.forget.journal import Intent
from core.memory.forget.plan import (
    Target,
    all_tombstoned,
    parse_target,
    part_file,
    physical_lines,
    plan_lines,
    tombstoned,
)
from core.memory.forget.scrub import reindex_part, scrub_recall
from core.memory.index import MemoryIndex
from core.memory.insight import refresh_insight
from core.origin import ANONYMOUS
from core.settings import GUEST_NAME_RE, Settings

log = logging.getLogger(__name__)

TRASH_PREFIX = ".forgotten-"


@dataclass
class Forgotten:
    """What one forget removed: ids only."""

    id: str
    kind: str
    path: str = ""
    day: str = ""
    part: int = 0
    lines: list[int] = field(default_factory=list)
    guest: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the routes and the CLI."""
        doc: dict[str, Any] = {"forgotten": True, "id": self.id, "kind": self.kind}
        if self.guest:
            return {**doc, "guest": self.guest}
        return {**doc, "path": self.path, "day": self.day, "part": self.part,
                "lines": self.lines}


class Forgetter:
    """Forgets lines, turns and guests' trees; `who` goes to the audit log."""

    def __init__(self, settings: Settings, index: MemoryIndex | None = None,
                 who: str = "origin") -> None:
        self.memory_dir = Path(settings.memory_dir)
        self.backup_dir = Path(settings.memory_backup_dir)
        self.origin_dir = Path(settings.origin_dir)
        self.who = who
        self._own_index = index is None
        self.index = index or MemoryIndex(self.memory_dir)

    def forget(self, rel: str, lines: list[int], turn: bool = False) -> Forgotten:
        """Forget lines of one part (each with its whole turn when `turn`)."""
        target = parse_target(rel)
        with folder_lock(self.memory_dir):
            path = part_file(self.memory_dir, target)
            data = path.read_bytes()
            numbers = plan_lines(data, target.rel, lines, turn)
            intent = Intent("turn" if turn else "line", self.who, target.rel, numbers)
            entry = journal.begin(self.origin_dir, intent)
            atomic_write(path, tombstoned(data, numbers))  # the commit point
            self._complete_lines(intent, data)
            journal.finish(entry)
        return Forgotten(intent.id, intent.kind, f"{self.memory_dir.name}/{target.rel}",
                         target.day, target.part, numbers)

    def forget_guest(self, name: str) -> Forgotten:
        """Forget a guest's whole tree (memory and backup), index included."""
        name = name.strip()
        if name != ANONYMOUS and not GUEST_NAME_RE.fullmatch(name):
            raise BadInput(f"not a guest name: {name[:40]!r}",
                           f"손님 이름이 아닙니다: {name[:40]!r}")
        root, mirror = self._guest_roots(name)
        if not root.is_dir() and not mirror.is_dir():
            raise NotFound(f"no memory of a guest named {name!r}",
                           f"{name!r}라는 손님의 기억이 없습니다.")
        intent = Intent("guest", self.who, guest=name)
        entry = journal.begin(self.origin_dir, intent)
        # the guest's own appends hold the lock on its root (they write the mirror too)
        with folder_lock(self.memory_dir), folder_lock(root):
            _move_aside(mirror, intent.id)
            _move_aside(root, intent.id)  # the commit point
            self._complete_guest(intent)
        journal.finish(entry)
        return Forgotten(intent.id, "guest", guest=name)

    def recover(self) -> int:
        """Complete the forgets a crash interrupted (or drop those that never committed)."""
        done = 0
        for entry, intent in journal.pending(self.origin_dir):
            with folder_lock(self.memory_dir):
                if not entry.exists():
                    continue  # another process (a worker) completed it meanwhile
                if intent.kind == "guest":
                    done += self._recover_guest(intent)
                else:
                    done += self._recover_lines(intent)
            journal.finish(entry)
        return done

    def _recover_lines(self, intent: Intent) -> int:
        target = parse_target(intent.rel)
        path = self.memory_dir / target.rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return 0
        if not all_tombstoned(data, intent.lines):
            return 0  # the part was never renamed: the forget did not happen
        self._complete_lines(intent, None, recovered=True)
        return 1

    def _complete_lines(self, intent: Intent, old: bytes | None, recovered: bool = False) -> None:
        target = parse_target(intent.rel)
        _remove_stale_temps(self.memory_dir / target.rel)
        self._mirror_lines(target, intent.lines, old)
        part = PartFile(self.memory_dir / target.rel, target.rel, target.day, target.part,
                        target.folder)
        part_id = reindex_part(self.index, part)
        refresh_insight(self.index, self.memory_dir)  # its top terms come from the lines
        vectors = scrub_recall(self.memory_dir, part_id, intent.lines)
        self.index.checkpoint()
        journal.audit(self.origin_dir, intent.record(vectors=vectors, recovered=recovered))

    def _mirror_lines(self, target: Target, numbers: list[int], old: bytes | None) -> None:
        """The same tombstones in the backup mirror (the lines that matched the part's)."""
        path = self.backup_dir / target.rel
        try:
            mirror = path.read_bytes()
        except FileNotFoundError:
            return
        lines = physical_lines(mirror)
        before = physical_lines(old) if old is not None else None
        same = [n for n in numbers if n <= len(lines)
                and (before is None or (n <= len(before) and lines[n - 1] == before[n - 1]))]
        if len(same) < len(numbers):
            log.warning("the backup of %s differs from the part; tombstoned where it matched",
                        target.rel)
        new = tombstoned(mirror, same)
        if new != mirror:
            atomic_write(path, new)
        _remove_stale_temps(path)

    def _guest_roots(self, name: str) -> tuple[Path, Path]:
        return self.memory_dir / GUESTS / name, self.backup_dir / GUESTS / name

    def _complete_guest(self, intent: Intent) -> None:
        for base in (self.backup_dir, self.memory_dir):
            trash = base / GUESTS / f"{TRASH_PREFIX}{intent.id}"
            if trash.exists():
                shutil.rmtree(trash)
                fsync_dir(trash.parent)
        journal.audit(self.origin_dir, intent.record())

    def _recover_guest(self, intent: Intent) -> int:
        root, mirror = self._guest_roots(intent.guest)
        trash = self.memory_dir / GUESTS / f"{TRASH_PREFIX}{intent.id}"
        mirror_trash = self.backup_dir / GUESTS / f"{TRASH_PREFIX}{intent.id}"
        if root.is_dir() and not trash.exists():  # not committed: put the mirror back
            if mirror_trash.is_dir() and not mirror.exists():
                mirror_trash.rename(mirror)
            return 0
        self._complete_guest(intent)
        return 1

    def close(self) -> None:
        """Close the index connection this forgetter opened."""
        if self._own_index:
            self.index.close()


def _remove_stale_temps(part: Path) -> None:
    """Temporary copies of the part a writer killed mid-write left (they may hold the line);
    every writer of a part holds the folder lock we hold, so any there now is stale."""
    for temp in part.parent.glob(f".{part.name}.*.tmp"):
        temp.unlink(missing_ok=True)


def _move_aside(folder: Path, forget_id: str) -> None:
    """Rename a guest's folder to a hidden one beside it (atomic), fsynced."""
    if not folder.is_dir():
        return
    folder.rename(folder.with_name(f"{TRASH_PREFIX}{forget_id}"))
    fsync_dir(folder.parent)
