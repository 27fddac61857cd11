"""The forget intent journal and the audit log, both under ECHO_ORIGIN_DIR, both 0600.

- `origin/forget_journal/<id>.json`: one file per forget in progress, written and fsynced
  before anything is changed, removed when the forget is complete. It names what to forget
  (the part path and line numbers, or a guest's name), never the text: a start or a replay
  that finds one completes it (the part was renamed: the forget happened) or drops it (it
  was not: nothing happened).
- `origin/forget_audit.jsonl`: one JSON record per completed forget (id, time, who, what
  kind, the part and line numbers or the guest's name), never the text.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.fsio import fsync_dir, write_all

log = logging.getLogger(__name__)

JOURNAL_DIR = "forget_journal"
AUDIT_LOG = "forget_audit.jsonl"


@dataclass(frozen=True)
class Intent:
    """One forget: lines of a part of the origin's archive, or a guest's whole tree."""

    kind: str  # 'line', 'turn' or 'guest'
    who: str  # 'origin' (the HTTP route) or 'cli'
    rel: str = ""  # the part, relative to the memory root
    lines: list[int] = field(default_factory=list)
    guest: str = ""
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def record(self, **extra: Any) -> dict[str, Any]:
        """The audit record: ids only."""
        doc = {k: v for k, v in asdict(self).items() if v not in ("", [])}
        return {**doc, **extra}


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def begin(origin_dir: Path, intent: Intent) -> Path:
    """Write the intent durably (0600, fsync, folder fsync) before anything changes."""
    folder = _private_dir(Path(origin_dir) / JOURNAL_DIR)
    path = folder / f"{intent.id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        write_all(fd, json.dumps(asdict(intent)).encode("utf-8"))
    finally:
        os.close(fd)
    fsync_dir(folder)
    return path


def finish(path: Path) -> None:
    """The forget is complete: drop its intent."""
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def pending(origin_dir: Path) -> list[tuple[Path, Intent]]:
    """Intents left by a forget that did not complete (oldest first); unreadable ones dropped."""
    folder = Path(origin_dir) / JOURNAL_DIR
    found: list[tuple[Path, Intent]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            intent = Intent(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            # a torn intent was never fsynced whole: nothing was changed after it
            log.warning("dropping an unreadable forget intent: %s", path.name)
            path.unlink(missing_ok=True)
            continue
        found.append((path, intent))
    found.sort(key=lambda item: item[1].time)
    return found


def audit(origin_dir: Path, record: dict[str, Any]) -> None:
    """Append one record to the audit log (0600), fsynced."""
    path = _private_dir(Path(origin_dir)) / AUDIT_LOG
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        write_all(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def read_audit(origin_dir: Path) -> list[dict[str, Any]]:
    """Every audit record (for tests and the CLI)."""
    path = Path(origin_dir) / AUDIT_LOG
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
