"""metrics.jsonl: one line per logging step, read by the dashboard while training runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainkit.files import guarded_write, write_text


def trim(path: Path, keep_until: int) -> None:
    """Fresh run (keep_until 0): empty the file. Resume: keep the lines up to that step."""
    kept: list[str] = []
    if keep_until > 0 and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line)["step"] <= keep_until:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                continue
    write_text(path, "".join(f"{line}\n" for line in kept))


def append(path: Path, line: dict[str, Any]) -> None:
    """Add one line (a whole line per write: a reader never sees half of one)."""
    with guarded_write(path), open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def last(path: Path) -> dict[str, Any]:
    """The last line, or {}."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return json.loads(lines[-1]) if lines else {}
