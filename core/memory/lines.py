"""Lines of the archive: the one cleaner, the one `Line` type, speakers, escaping.

A header line (`나의 말:`, `ChatGPT의 말:`, `에코의 말:`, `You said:`) opens a turn; every
line below it belongs to that speaker. Headers are folded into their turn: they are
not lines of their own in the index.

Lines appended by the server that would not survive `clean_line()` unchanged (blank,
indented, control characters, a line that looks like a header or copy debris) are
written escaped: `ESCAPE_MARK` followed by a JSON string, so every text round-trips.

A forgotten line is replaced by `TOMBSTONE` (core/memory/forget/): a fixed marker that
keeps every other line's number and that every reader drops like an empty line.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

HEADER_RE = re.compile(r"(.{1,30}?)의 말:|(You|ChatGPT|Echo|Assistant) said:")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
ESCAPE_MARK = "\u241e"
TOMBSTONE = "\u2421 forgotten / 잊음"  # ␡: what a forgotten line becomes
ORIGIN_HEADER = "나의 말:"
ECHO_HEADER = "에코의 말:"
COPY_ARTEFACTS = frozenset({"복사", "편집", "코드 복사", "copy", "edit", "copy code"})
LANG_TAGS = frozenset(
    """bash sh shell zsh console powershell ps1 bat cmd python py python3 plaintext text txt
    json jsonc yaml yml toml ini xml html css scss javascript js jsx typescript ts tsx sql
    java kotlin swift c cpp c++ csharp cs go rust rs ruby php perl lua r dart dockerfile
    makefile cmake nginx diff markdown md latex tex graphql csv env""".split()
)
GUEST_PREFIX = "손님 "  # a guest's header: '손님 <name>의 말:' (speaker 'guest:<name>')
SPEAKER_NAMES = {"나": "origin", "you": "origin", "에코": "echo", "echo": "echo"}
_SHORT = 12  # longer than every copy artefact and language tag: only shorter lines are folded


class Line(NamedTuple):
    """One kept line of a part file: 1-based raw line number, speaker, clean text."""

    number: int
    speaker: str | None
    text: str


@dataclass(frozen=True)
class PartLines:
    """The kept lines of one part, column by column (the form the index stores).

    Columns, not one object a line: a replay reads ~300,000 lines, and a `Line` is
    built only where a line is handled alone (iterate to get them).
    """

    numbers: list[int] = field(default_factory=list)
    speakers: list[str | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not len(self.numbers) == len(self.speakers) == len(self.texts):
            raise ValueError("the columns of a part's lines differ in length")

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[Line]:
        return map(Line._make, zip(self.numbers, self.speakers, self.texts, strict=True))

    def add(self, line: Line) -> None:
        """Append one line."""
        self.numbers.append(line.number)
        self.speakers.append(line.speaker)
        self.texts.append(line.text)


def normalize(text: str) -> str:
    """Control characters dropped, then NFC.

    Neither step crosses a newline, so a whole file normalized at once (in C, fast)
    equals its lines normalized one by one.
    """
    return unicodedata.normalize("NFC", CONTROL_RE.sub("", text))


def _cleaned(lines: list[str]) -> list[str | None]:
    """Normalized physical lines stripped; None for copy debris ('' stays '': a blank line)."""
    return [
        None if len(line) < _SHORT and line.casefold() in COPY_ARTEFACTS else line
        for line in map(str.strip, lines)
    ]


def clean_line(raw: str | bytes) -> str | None:
    """One clean utterance, or None for a line to drop (empty, debris, only control chars)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    line = _cleaned([normalize(raw)])[0]
    return None if not line or line == TOMBSTONE else line


def parse_header(line: str) -> str | None:
    """The speaker a header line names ('origin', 'chatgpt', 'echo', ...), else None."""
    match = HEADER_RE.fullmatch(line)
    if match is None:
        return None
    name = (match.group(1) or match.group(2)).strip()
    if name.startswith(GUEST_PREFIX.strip()) and (guest := name[len(GUEST_PREFIX):].strip()):
        return f"guest:{guest.casefold()}"
    return SPEAKER_NAMES.get(name.casefold(), name.casefold())


def guest_header(name: str) -> str:
    """The header that opens a guest's turn in the guest's own tree."""
    return f"{GUEST_PREFIX}{name}의 말:"


def parse_lines(text: str) -> tuple[PartLines, int]:
    """Every kept line of a part's text (see `clean_line`), and the header count."""
    raw_lines = normalize(text).split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    kept = PartLines()
    numbers, speakers, texts = kept.numbers, kept.speakers, kept.texts
    speaker: str | None = None
    headers = 0
    pending_tag: Line | None = None
    for number, line in enumerate(_cleaned(raw_lines), 1):
        if line is None:
            pending_tag = None  # a language tag right before copy debris is debris too
            continue
        if not line or line == TOMBSTONE:
            continue
        if pending_tag is not None:
            kept.add(pending_tag)
            pending_tag = None
        if line[0] == ESCAPE_MARK and (decoded := _unescape(line)) is not None:
            line = decoded
        elif line[-1] == ":" and (who := parse_header(line)) is not None:
            speaker = who
            headers += 1
            continue
        elif len(line) < _SHORT and line.casefold() in LANG_TAGS:
            pending_tag = Line(number, speaker, line)
            continue
        numbers.append(number)
        speakers.append(speaker)
        texts.append(line)
    if pending_tag is not None:
        kept.add(pending_tag)
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
