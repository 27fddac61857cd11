"""The archive on disk: find day/part files, order them, clean lines, parse speakers.

Layout: `memory/dayMMDD/partN.txt` (the origin's archive) and
`memory/dayMMDD/<speaker>/partN.txt` (what the server writes, `user/`).
A header line (`나의 말:`, `ChatGPT의 말:`, `에코의 말:`, `You said:`) opens a turn; every
line below it belongs to that speaker. Headers are folded into their turn: they are
not lines of their own in the index.

Lines appended by the server that would not survive `clean_line()` unchanged (blank,
indented, control characters, a line that looks like a header or copy debris) are
written escaped: `ESCAPE_MARK` followed by a JSON string, so every text round-trips.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DAY_RE = re.compile(r"day(\d{4})")
PART_RE = re.compile(r"part(\d+)\.txt")
HEADER_RE = re.compile(r"(.{1,30}?)의 말:|(You|ChatGPT|Echo|Assistant) said:")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
ESCAPE_MARK = "\u241e"
ORIGIN_HEADER = "나의 말:"
ECHO_HEADER = "에코의 말:"
COPY_ARTEFACTS = frozenset({"복사", "편집", "코드 복사", "copy", "edit", "copy code"})
LANG_TAGS = frozenset(
    """bash sh shell zsh console powershell ps1 bat cmd python py python3 plaintext text txt
    json jsonc yaml yml toml ini xml html css scss javascript js jsx typescript ts tsx sql
    java kotlin swift c cpp c++ csharp cs go rust rs ruby php perl lua r dart dockerfile
    makefile cmake nginx diff markdown md latex tex graphql csv env""".split()
)
SPEAKER_NAMES = {"나": "origin", "you": "origin", "에코": "echo", "echo": "echo"}
IGNORED_ROOT_NAMES = frozenset({"insight.json"})


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


def clean_line(raw: str | bytes) -> str | None:
    """One clean utterance, or None for a line to drop (empty, debris, only control chars)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = CONTROL_RE.sub("", raw)
    text = unicodedata.normalize("NFC", text).strip()
    if not text or text.casefold() in COPY_ARTEFACTS:
        return None
    return text


def parse_header(line: str) -> str | None:
    """The speaker a header line names ('origin', 'chatgpt', 'echo', ...), else None."""
    match = HEADER_RE.fullmatch(line)
    if match is None:
        return None
    name = (match.group(1) or match.group(2)).strip()
    return SPEAKER_NAMES.get(name.casefold(), name.casefold())


def parse_lines(text: str) -> tuple[list[tuple[int, str | None, str]], int]:
    """(1-based raw line number, speaker, clean text) of every kept line, and the header count."""
    # Whole-text cleaning is per-line cleaning (neither step crosses a newline), done in C.
    raw_lines = unicodedata.normalize("NFC", CONTROL_RE.sub("", text)).split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    kept: list[tuple[int, str | None, str]] = []
    speaker: str | None = None
    headers = 0
    pending_tag: tuple[int, str | None, str] | None = None
    artefacts, tags, mark = COPY_ARTEFACTS, LANG_TAGS, ESCAPE_MARK
    for number, raw in enumerate(raw_lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line[0] == mark and (decoded := _unescape(line)) is not None:
            if pending_tag is not None:
                kept.append(pending_tag)
                pending_tag = None
            kept.append((number, speaker, decoded))
            continue
        folded = line.casefold() if len(line) < 12 else ""
        if folded in artefacts:
            pending_tag = None  # a language tag right before copy debris is debris too
            continue
        if pending_tag is not None:
            kept.append(pending_tag)
            pending_tag = None
        if line[-1] == ":" and (who := parse_header(line)) is not None:
            speaker = who
            headers += 1
        elif folded in tags:
            pending_tag = (number, speaker, line)
        else:
            kept.append((number, speaker, line))
    if pending_tag is not None:
        kept.append(pending_tag)
    return kept, headers


def decode_part(data: bytes) -> str:
    """Bytes of a part file as text: BOM dropped, invalid UTF-8 replaced, CRLF handled."""
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _unescape(raw: str) -> str | None:
    body = raw[len(ESCAPE_MARK) :]
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be stored: replace it
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def needs_escape(line: str) -> bool:
    """Whether a line of appended text must be escaped to read back exactly."""
    if line.startswith(ESCAPE_MARK) or clean_line(line) != line:
        return True
    if line.endswith(":") and parse_header(line) is not None:
        return True
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def escape_line(line: str) -> str:
    """The physical form of one line of appended text."""
    if not needs_escape(line):
        return line
    body = json.dumps(line, ensure_ascii=False)
    # The replay cleans whole files before splitting lines: an escaped line must not
    # hold what cleaning changes (control characters, non-NFC text, lone surrogates).
    if CONTROL_RE.search(body) or not unicodedata.is_normalized("NFC", body):
        body = json.dumps(line, ensure_ascii=True)
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(line, ensure_ascii=True)
    return ESCAPE_MARK + body


def turn_lines(header: str, text: str) -> list[str]:
    """Physical lines of one speaker's text: the header, then every line (escaped if needed)."""
    return [header, *(escape_line(line) for line in text.split("\n"))]


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


def iter_days(parts: Iterable[PartFile]) -> list[str]:
    """Distinct day names of some parts, in order."""
    return sorted({p.day for p in parts}, key=lambda d: (int(d[3:]), d))


@contextmanager
def archive_lock(memory_dir: Path) -> Iterator[None]:
    """Exclusive lock on the memory root (flock on the folder) across threads and processes."""
    memory_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(memory_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
