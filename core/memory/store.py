"""Durable appends: every answered turn goes to its caller's tree.

The origin's turns go to memory/dayMMDD/user/partN.txt; a guest's to the guest's own tree,
memory/guests/<name>/dayMMDD/partN.txt (see core/memory/callers.py), never the origin's.
A turn is the caller's header (`나의 말:`, `손님 <name>의 말:`) and prompt lines, then Echo's header
(`에코의 말:`) and reply lines; lines that cleaning would change are escaped (see
core/memory/lines.py), so the replay reads every text back exactly. Each append rewrites
the part through a temporary file, fsync and rename: after kill -9 at any moment a part
is either the old file or the new one, never a torn line. One lock on the memory root
(flock, plus a thread lock) orders appends across threads and worker processes. The
same bytes go to memory_backup/ (same relative path), and the part is re-indexed in the
same call, so a saved turn is searchable at once.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.fsio import atomic_write, folder_lock
from core.memory.archive import PART_RE, PartFile
from core.memory.index import MemoryIndex
from core.memory.lines import ECHO_HEADER, ORIGIN_HEADER, turn_lines
from core.memory.read import part_from_bytes
from core.settings import Settings

log = logging.getLogger(__name__)

SPEAKER_FOLDER = "user"


@dataclass(frozen=True)
class Tree:
    """Where one caller's turns go: a memory root, its backup mirror, folder and header."""

    memory_dir: Path
    backup_dir: Path
    folder: str = SPEAKER_FOLDER  # '' writes dayMMDD/partN.txt (a guest's tree)
    header: str = ORIGIN_HEADER
    public: bool = True  # whether the answer may show the part's path (the origin's only)

    @classmethod
    def origin(cls, settings: Settings) -> Tree:
        """The origin's archive, where the spec puts it."""
        return cls(Path(settings.memory_dir), Path(settings.memory_backup_dir))


@dataclass
class SaveResult:
    """What happened to one turn: saved where, or why not."""

    saved: bool
    path: str | None = None
    error: str | None = None
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The `memory` field of the /api/ask answer."""
        if not self.saved:
            return {"saved": False, "error": self.error}
        doc: dict[str, Any] = {"saved": True}
        if self.path is not None:
            doc["path"] = self.path
        if self.duplicate:
            doc["duplicate"] = True
        if self.error:
            doc["warning"] = self.error
        return doc


@dataclass(frozen=True)
class _Write:
    """One part file's new bytes (old content + appended lines)."""

    part: PartFile
    old: bytes
    new: bytes


class MemoryStore:
    """Appends answered turns to the archive, durably and exactly once per key."""

    def __init__(
        self, settings: Settings, index: MemoryIndex | None = None, tree: Tree | None = None
    ) -> None:
        self.tree = tree or Tree.origin(settings)
        self.memory_dir = self.tree.memory_dir
        self.backup_dir = self.tree.backup_dir
        self.part_lines = settings.part_lines
        self.tz = ZoneInfo(settings.timezone) if settings.timezone else None
        self.index = index or MemoryIndex(self.memory_dir)
        self._lock = threading.Lock()

    def today(self) -> str:
        """The day folder a turn saved now belongs to (ECHO_TIMEZONE, else local time)."""
        now = datetime.now(self.tz) if self.tz else datetime.now().astimezone()
        return f"day{now:%m%d}"

    def save_turn(
        self, prompt: str, reply: str, *, idempotency_key: str | None = None, scope: str = ""
    ) -> SaveResult:
        """Append one turn; never raises (a failure comes back as saved=False with the reason).

        `scope` (the caller's name) keeps one caller's Idempotency-Key from matching another's.
        """
        key = None
        if idempotency_key:
            key = hashlib.sha256(f"{scope}\0{idempotency_key}".encode()).hexdigest()
        try:
            with self._lock, folder_lock(self.memory_dir):
                return self._save_locked(prompt, reply, key)
        except (OSError, sqlite3.Error, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            log.warning("memory append failed: %s", reason)
            return SaveResult(
                False,
                error=f"the turn was not saved to memory ({reason}) / "
                f"이번 대화를 기억에 저장하지 못했습니다 ({reason})",
            )

    def _save_locked(self, prompt: str, reply: str, key: str | None) -> SaveResult:
        if key is not None and (done := self._already_saved(key)) is not None:
            return done
        lines = turn_lines(self.tree.header, prompt) + turn_lines(ECHO_HEADER, reply)
        writes = self._plan(self.today(), lines)
        last = writes[-1]
        appended = last.new[len(last.old) :]
        if key is not None:
            with self.index.transaction() as conn:
                self.index.put_turn(
                    conn, key, last.part.rel, len(last.old), len(appended),
                    hashlib.sha256(appended).hexdigest(), False,
                )
        for write in writes:
            atomic_write(self.memory_dir / write.part.rel, write.new)
        warning = self._mirror(writes)
        self._index(writes, key)
        return SaveResult(True, self._public(last.part.rel), error=warning)

    def _already_saved(self, key: str) -> SaveResult | None:
        record = self.index.get_turn(key)
        if record is None:
            return None
        rel, offset, length, digest, done = record
        if not done:
            try:
                data = (self.memory_dir / rel).read_bytes()
            except OSError:
                data = b""
            chunk = data[offset : offset + length]
            if len(chunk) != length or hashlib.sha256(chunk).hexdigest() != digest:
                return None  # the interrupted write never landed: save it now
            part = _part_of(self.memory_dir, rel)
            self._mirror([_Write(part, data, data)])
            self._index([_Write(part, data, data)], key)
        return SaveResult(True, self._public(rel), duplicate=True)

    def _plan(self, day: str, lines: list[str]) -> list[_Write]:
        """Which parts get which lines: a turn goes whole into one part when it fits."""
        folder = self.memory_dir / day / self.tree.folder  # '' keeps dayMMDD itself
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(folder)
        numbers = [int(m.group(1)) for p in folder.iterdir() if (m := PART_RE.fullmatch(p.name))]
        number = max(numbers, default=1)
        old = _read(folder / f"part{number}.txt")
        used = _count_lines(old)
        if used and used + len(lines) > self.part_lines:
            number, old, used = number + 1, _read(folder / f"part{number + 1}.txt"), 0
        writes: list[_Write] = []
        header = lines[0]
        headers = (self.tree.header, ECHO_HEADER)
        while lines:
            room = self.part_lines - used
            chunk, lines = lines[:room], lines[room:]
            if lines and lines[0] not in headers:
                # a turn longer than a part: the next part repeats the speaker's header
                header = next((h for h in reversed(chunk) if h in headers), header)
                lines = [header, *lines]
            rel = "/".join(p for p in (day, self.tree.folder, f"part{number}.txt") if p)
            sep = b"\n" if old and not old.endswith(b"\n") else b""
            new = old + sep + ("\n".join(chunk) + "\n").encode("utf-8")
            writes.append(_Write(_part_of(self.memory_dir, rel), old + sep, new))
            number, old, used = number + 1, _read(folder / f"part{number + 1}.txt"), 0
        return writes

    def _mirror(self, writes: list[_Write]) -> str | None:
        try:
            for write in writes:
                atomic_write(self.backup_dir / write.part.rel, write.new)
        except OSError as exc:
            log.warning("memory backup failed: %s", exc)
            return f"backup failed ({exc.strerror}) / 백업에 실패했습니다 ({exc.strerror})"
        return None

    def _index(self, writes: list[_Write], key: str | None) -> None:
        try:
            with self.index.transaction() as conn:
                for write in writes:
                    stat = (self.memory_dir / write.part.rel).stat()
                    read = part_from_bytes(write.part, write.new, stat.st_size, stat.st_mtime_ns)
                    self.index.write_parts(conn, [read])
                if key is not None:
                    conn.execute("UPDATE turns SET done=1 WHERE key=?", (key,))
        except (OSError, sqlite3.Error) as exc:  # saved on disk; the next replay indexes it
            log.warning("indexing the saved turn failed: %s", exc)

    def _public(self, rel: str) -> str | None:
        return f"{self.memory_dir.name}/{rel}" if self.tree.public else None


def _part_of(memory_dir: Path, rel: str) -> PartFile:
    day, *folders, name = rel.split("/")
    folder = folders[0] if folders else ""
    match = PART_RE.fullmatch(name)
    return PartFile(memory_dir / rel, rel, day, int(match.group(1)) if match else 0, folder)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _remove_stale_temps(folder: Path) -> None:
    for temp in folder.glob(".part*.tmp"):  # left by a writer killed mid-append
        temp.unlink(missing_ok=True)

