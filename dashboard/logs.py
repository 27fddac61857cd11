"""Log lines from the server's log file and the training child: level, filter, search (no Tk)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "TRACE": "DEBUG", "ERR": "ERROR"}
_LEVEL_RE = re.compile(r"\b(DEBUG|INFO|WARNING|WARN|ERROR|ERR|CRITICAL|FATAL|TRACE)\b")
_TRACEBACK_RE = re.compile(
    r"^(Traceback \(most recent call last\)|\s+File \"|\w+(Error|Exception):)"
)


@dataclass(frozen=True)
class LogLine:
    """One line and where it came from (`server` or `train`)."""

    source: str
    level: str
    text: str


def level_of(text: str, previous: str = "INFO") -> str:
    """The level a line names (uvicorn's `INFO:`, logging's ` WARNING `); traceback lines: ERROR."""
    match = _LEVEL_RE.search(text[:120])
    if match:
        word = match.group(1)
        return _ALIASES.get(word, word)
    if _TRACEBACK_RE.match(text):
        return "ERROR"
    if text.startswith((" ", "\t")):
        return previous  # a continuation keeps its parent's level
    return "INFO"


def classify(source: str, lines: Iterable[str], previous: str = "INFO") -> list[LogLine]:
    """Attach a level to each raw line."""
    out = []
    for text in lines:
        previous = level_of(text, previous)
        out.append(LogLine(source, previous, text))
    return out


class LogBuffer:
    """The last `limit` lines; what passes a minimum level and a search text."""

    def __init__(self, limit: int = 5000) -> None:
        self.lines: deque[LogLine] = deque(maxlen=limit)

    def extend(self, lines: Iterable[LogLine]) -> None:
        """Add lines (the oldest fall out past the limit)."""
        self.lines.extend(lines)

    def last_level(self, source: str) -> str:
        """The level of the newest line from `source` (continuations inherit it)."""
        for line in reversed(self.lines):
            if line.source == source:
                return line.level
        return "INFO"

    def visible(self, min_level: str = "DEBUG", search: str = "") -> list[LogLine]:
        """Lines at or above `min_level` that contain `search` (case-insensitive)."""
        return [line for line in self.lines if passes(line, min_level, search)]


def passes(line: LogLine, min_level: str = "DEBUG", search: str = "") -> bool:
    """Whether one line passes the level filter and the search."""
    if _RANK.get(line.level, 1) < _RANK.get(min_level, 0):
        return False
    return not search or search.casefold() in line.text.casefold()
