"""The archive on disk: clean_line, speakers, discovery, ordering, dirt, escaping."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.memory.archive import discover
from core.memory.lines import (
    ECHO_HEADER,
    ORIGIN_HEADER,
    clean_line,
    decode_part,
    escape_line,
    parse_lines,
    turn_lines,
)
from core.settings import Settings

# the origin's own sample (seed 003_2e23d4197dcd224a.txt), kept with the tests
SEED = Path(__file__).with_name("data") / "seed_003.txt"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  안녕 오리진  ", "안녕 오리진"),
        ("한\x00글\x07 끝\r", "한글 끝"),
        ("\ufeff첫 줄", "첫 줄"),
        ("e\u0301cho 가", "\u00e9cho 가"),  # NFC
        ("\u1100\u1161", "\u00ac00".replace("\u00ac00", "가")),  # jamo compose to a syllable
        ("기능\t설명", "기능\t설명"),  # tabs inside a line are kept
        ("복사", None),
        ("편집", None),
        ("코드 복사", None),
        ("Copy", None),
        ("Edit", None),
        ("  \t ", None),
        ("\x00\x01", None),
        ("복사해줘", "복사해줘"),
        (b"broken \xff\xfe bytes", "broken \ufffd\ufffd bytes"),
    ],
)
def test_clean_line(raw: str | bytes, clean: str | None) -> None:
    assert clean_line(raw) == clean


def test_parse_lines_folds_headers_and_drops_copy_debris() -> None:
    text = "\n".join(
        ["서문", "나의 말:", "이거 실행해", "", "ChatGPT의 말:", "좋아, 오리진.", "bash", "복사",
         "편집", "pip install x", "python", "은 내가 좋아하는 말", "You said:", "hi"]
    )
    rows, headers = parse_lines(text)
    assert headers == 3
    assert list(rows) == [
        (1, None, "서문"),
        (3, "origin", "이거 실행해"),
        (6, "chatgpt", "좋아, 오리진."),
        (10, "chatgpt", "pip install x"),
        (11, "chatgpt", "python"),  # a language word not followed by copy debris stays
        (12, "chatgpt", "은 내가 좋아하는 말"),
        (14, "origin", "hi"),
    ]


def test_parse_lines_handles_crlf_bom_and_invalid_utf8() -> None:
    data = b"\xef\xbb\xbf\xeb\x82\x98\xec\x9d\x98 \xeb\xa7\x90:\r\nok \xff line\r\n\r\nlast"
    rows, headers = parse_lines(decode_part(data))
    assert headers == 1
    assert list(rows) == [(2, "origin", "ok \ufffd line"), (4, "origin", "last")]


def test_seed_sample_parses_with_speakers_and_without_debris() -> None:
    rows, headers = parse_lines(decode_part(SEED.read_bytes()))
    texts = [t for _, _, t in rows]
    assert headers == 14
    assert not {"복사", "편집", "bash", "plaintext", "python"} & set(texts)
    assert {s for _, s, _ in rows} == {None, "origin", "chatgpt"}
    numbers = [n for n, _, _ in rows]
    assert numbers == sorted(numbers) and numbers[-1] == 395  # last line has no newline


@pytest.mark.parametrize(
    "text",
    ["plain", "", "  indented", "trailing  ", "복사", "나의 말:", "ChatGPT의 말:", "\x00nul",
     "tab\tin", "e\u0301", "\u241e\"looks escaped\"", "cr\r", "\u2028sep"],
)
def test_escape_round_trips_every_line(text: str) -> None:
    physical = escape_line(text)
    assert "\n" not in physical
    rows, headers = parse_lines(f"{ORIGIN_HEADER}\n{physical}\n")
    assert headers == 1
    assert list(rows) == [(2, "origin", text)]


def test_turn_lines_keep_a_multiline_text() -> None:
    text = "첫 줄\n\n    code()\nbash\n복사\n나의 말:\n끝"
    lines = turn_lines(ECHO_HEADER, text)
    rows, _ = parse_lines("\n".join(lines) + "\n")
    assert "\n".join(t for _, _, t in rows) == text
    assert {s for _, s, _ in rows} == {"echo"}


def test_discover_orders_days_and_parts_numerically(
    settings: Settings, write_part: Callable[..., Path]
) -> None:
    for rel in ["day0410/part1.txt", "day0409/part10.txt", "day0409/part2.txt",
                "day0409/user/part1.txt", "day0409/part1.txt", "day1231/part1.txt"]:
        write_part(rel, "줄\n")
    parts, skipped = discover(settings.memory_dir)
    assert [p.rel for p in parts] == [
        "day0409/part1.txt", "day0409/part2.txt", "day0409/part10.txt",
        "day0409/user/part1.txt", "day0410/part1.txt", "day1231/part1.txt",
    ]
    assert skipped == []
    assert parts[3].folder == "user" and parts[2].part == 10


def test_discover_skips_and_reports_dirt(
    settings: Settings, write_part: Callable[..., Path], tmp_path: Path
) -> None:
    root = settings.memory_dir
    write_part("day0401/part1.txt", "ok\n")
    write_part("day0401/notes.md", "not a part\n")
    write_part("day0401/part2.txt.bak", "old\n")
    write_part("README.txt", "not a day\n")
    write_part("day0401/user/deep/part1.txt", "too deep\n")
    (root / "day0402").mkdir()
    (root / "day0401" / "empty").mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the root\n", encoding="utf-8")
    os.symlink(outside, root / "day0401" / "part3.txt")
    os.symlink(root / "day0401" / "nowhere.txt", root / "day0401" / "part4.txt")
    os.symlink(tmp_path, root / "day0403")
    inside = write_part("day0405/part1.txt", "linked\n")
    os.symlink(inside, root / "day0401" / "part5.txt")
    (root / "day0401" / "part6.txt").mkdir()
    os.mkfifo(root / "day0401" / "part7.txt")
    parts, skipped = discover(root)
    assert [p.rel for p in parts] == ["day0401/part1.txt", "day0401/part5.txt", "day0405/part1.txt"]
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["day0401/notes.md"] == "not a part file"
    assert reasons["day0401/part2.txt.bak"] == "not a part file"
    assert reasons["README.txt"].startswith("not a day folder")
    assert reasons["day0401/user/deep"] == "folder too deep"
    assert reasons["day0402"] == "empty folder"
    assert reasons["day0401/empty"] == "empty folder"
    assert reasons["day0401/part3.txt"] == "symlink leads outside the memory root"
    assert reasons["day0403"] == "symlink leads outside the memory root"
    assert reasons["day0401/part4.txt"].startswith("unreadable")
    assert reasons["day0401/part7.txt"] == "not a regular file"
    assert reasons["day0401/part6.txt"] == "empty folder"
