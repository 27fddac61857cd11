"""Follow growing files: whole lines only, a partial last line waits, truncation restarts."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


class TailReader:
    """Reads the complete lines appended to a file since the last call."""

    def __init__(self, path: Path, *, start_at_end: bool = False, backlog: int = 64 * 1024) -> None:
        self.path = path
        self.start_at_end = start_at_end
        self.backlog = backlog
        self._offset: int | None = None
        self._inode: int | None = None
        self._partial = b""
        self.generation = 0  # +1 each time the file was replaced or truncated

    def read_lines(self) -> list[str]:
        """New complete lines (decoded, invalid UTF-8 replaced); [] when the file is missing."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                self._check_rotation(st)
                f.seek(self._offset or 0)
                data = f.read()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return []
        self._offset = (self._offset or 0) + len(data)
        chunk = self._partial + data
        *lines, self._partial = chunk.split(b"\n")
        return [line.rstrip(b"\r").decode("utf-8", errors="replace") for line in lines]

    def _check_rotation(self, st: os.stat_result) -> None:
        replaced = self._inode is not None and st.st_ino != self._inode
        truncated = self._offset is not None and st.st_size < self._offset
        if self._offset is None or replaced or truncated:
            first = self._offset is None
            self.generation += 0 if first else 1
            self._partial = b""
            self._offset = max(0, st.st_size - self.backlog) if first and self.start_at_end else 0
            if self._offset:
                self._skip_to_line_start()
        self._inode = st.st_ino

    def _skip_to_line_start(self) -> None:
        with open(self.path, "rb") as f:
            f.seek(self._offset or 0)
            head = f.readline()
            self._offset = (self._offset or 0) + len(head)


class JsonlFollower:
    """Follows a JSON-lines file: parsed records, malformed lines skipped and counted."""

    def __init__(self, path: Path) -> None:
        self.reader = TailReader(path)
        self.malformed = 0

    def read(self) -> list[dict[str, Any]]:
        """Records appended since the last call."""
        records = []
        for line in self.reader.read_lines():
            if not line.strip():
                continue
            try:
                record = json.loads(line, parse_constant=_no_constant)
            except ValueError:
                self.malformed += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                self.malformed += 1
        return records


def _no_constant(name: str) -> float:
    """NaN and Infinity in a metrics line: keep them as floats (a diverged loss is data)."""
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def read_json(path: Path) -> dict[str, Any] | None:
    """A small JSON document (train.json), or None when missing or half-written."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
