"""The boot replay: read the archive once, index it incrementally, write insight.json.

Runs once per process start in a background thread (`start_replay`) and as
`echo-brain replay`. Only one process replays at a time (a lock on the memory root);
the others wait and then find every part unchanged. An unchanged part (same size and
mtime_ns) is not read again. A first build of a large archive in a single-threaded
process (the `replay` command) uses both cores (core/memory/build.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.fsio import folder_lock
from core.memory.archive import PartFile, Skipped, discover
from core.memory.build import rebuild_index
from core.memory.index import MemoryIndex
from core.memory.insight import build_insight, write_insight
from core.memory.read import PartRead, read_part

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

PARALLEL_MIN_PARTS = 48


class ReplayStatus:
    """Where the replay stands; read by /ready and /metrics from other threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = "pending"
        self.lines = 0
        self.parts = 0
        self.error: str | None = None
        self.duration_s: float | None = None

    def update(self, **fields: Any) -> None:
        """Set some fields at once."""
        with self._lock:
            for name, value in fields.items():
                setattr(self, name, value)

    def add(self, lines: int, parts: int) -> None:
        """Count lines and parts absorbed so far."""
        with self._lock:
            self.lines += lines
            self.parts += parts

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy: state, lines, parts, error, duration_s."""
        with self._lock:
            return {
                "state": self.state,
                "lines": self.lines,
                "parts": self.parts,
                "error": self.error,
                "duration_s": self.duration_s,
            }


def replay_archive(
    memory_dir: Path,
    manifest_dir: Path,
    *,
    status: ReplayStatus | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Replay the archive into the index and write memory/insight.json; returns the insight."""
    status = status or ReplayStatus()
    started = time.perf_counter()
    status.update(state="running", error=None, lines=0, parts=0)
    try:
        with folder_lock(Path(memory_dir)):
            insight = _replay_locked(
                Path(memory_dir), Path(manifest_dir), status, progress, started
            )
    except Exception as exc:
        status.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    status.update(state="done", lines=insight["lines"], parts=insight["parts"])
    status.update(duration_s=insight["duration_s"])
    return insight


def _replay_locked(
    memory_dir: Path,
    manifest_dir: Path,
    status: ReplayStatus,
    progress: Callable[[int, int], None] | None,
    started: float,
) -> dict[str, Any]:
    index = MemoryIndex(memory_dir)
    try:
        parts, skipped = discover(memory_dir)
        known = index.known_parts()
        changed = [p for p in parts if _changed(p, known)]
        unchanged = {p.rel for p in parts} - {p.rel for p in changed}
        status.add(sum(known[rel].lines for rel in unchanged), len(unchanged))
        gone = set(known) - {p.rel for p in parts}
        total = len(changed)
        if progress:
            progress(0, total)
        counter = _Counter(status, progress, total, skipped)
        if not known and total >= PARALLEL_MIN_PARTS and _can_fork():
            rebuild_index(index, (_read_one(p) for p in changed), counter)
        elif changed or gone:
            with index.transaction(bulk=total >= PARALLEL_MIN_PARTS) as conn:
                index.drop_parts(conn, gone)
                for part in changed:
                    item = _read_one(part)
                    written = 0 if isinstance(item, Skipped) else index.write_parts(conn, [item])
                    counter(item, written)
        read, lines_read = counter.parts, counter.lines
        run = {"parts_read": read, "lines_read": lines_read, "parts_unchanged": len(unchanged)}
        insight = build_insight(index, memory_dir, manifest_dir, skipped, run)
        insight["duration_s"] = round(time.perf_counter() - started, 3)
        write_insight(memory_dir, insight)
        return insight
    finally:
        index.close()


def _changed(part: PartFile, known: dict[str, Any]) -> bool:
    row = known.get(part.rel)
    if row is None:
        return True
    try:
        stat = part.path.stat()
    except OSError:
        return True
    return (stat.st_size, stat.st_mtime_ns) != (row.size, row.mtime_ns)


def _read_one(part: PartFile) -> PartRead | Skipped:
    try:
        return read_part(part)
    except OSError as exc:
        return Skipped(part.rel, f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # a bad part never stops the replay
        return Skipped(part.rel, f"failed: {type(exc).__name__}: {exc}")


class _Counter:
    """Counts what the replay absorbed and reports progress."""

    def __init__(
        self,
        status: ReplayStatus,
        progress: Callable[[int, int], None] | None,
        total: int,
        skipped: list[Skipped],
    ) -> None:
        self.status, self.progress, self.total, self.skipped = status, progress, total, skipped
        self.parts = self.lines = 0

    def __call__(self, item: PartRead | Skipped, written: int) -> None:
        self.parts += 1
        if isinstance(item, Skipped):
            self.skipped.append(item)
        else:
            self.lines += written
            self.status.add(written, 1)
        if self.progress:
            self.progress(self.parts, self.total)


def _can_fork() -> bool:
    # Forking a process that runs other threads is unsafe (and deprecated in 3.12+):
    # the server replays in a background thread, so there it reads inline.
    return hasattr(os, "fork") and threading.active_count() == 1 and (os.cpu_count() or 1) > 1


def remove_dead_temps(memory_dir: Path) -> int:
    """Delete the temporary files (`.name.<pid>.<thread>.tmp`, core.fsio) that a writer
    killed mid-write left in the memory root: insight.json's may hold a forgotten line's
    terms. A file of a process that still lives is left alone."""
    removed = 0
    for temp in Path(memory_dir).glob(".*.tmp"):
        parts = temp.name.split(".")
        pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
        if pid is None or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            temp.unlink()
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _complete_forgets(settings: Settings) -> None:
    """Finish (or drop) the forgets a crash interrupted, before anything reads the archive."""
    from core.memory.forget import Forgetter

    remove_dead_temps(settings.memory_dir)
    forgetter = Forgetter(settings, who="recovery")
    try:
        if done := forgetter.recover():
            log.warning("completed %d interrupted forget(s)", done)
    except Exception:  # the replay still runs; the next start tries again
        log.exception("completing interrupted forgets failed")
    finally:
        forgetter.close()


def start_replay(settings: Settings, status: ReplayStatus) -> threading.Thread:
    """Run the replay in a background daemon thread; failures land in `status`, never raise."""

    def run() -> None:
        try:
            _complete_forgets(settings)
            replay_archive(settings.memory_dir, settings.manifest_dir, status=status)
        except Exception as exc:  # reported through /ready
            log.exception("memory replay failed")
            status.update(state="failed", error=status.error or f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=run, name="echo-replay", daemon=True)
    thread.start()
    return thread
