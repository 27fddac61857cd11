"""Following metrics.jsonl and log files as they grow."""

from __future__ import annotations

import math
from pathlib import Path

from dashboard.follow import JsonlFollower, TailReader, read_json


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_a_partial_last_line_waits_for_its_end(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    follower = JsonlFollower(path)
    assert follower.read() == []  # not there yet
    _append(path, b'{"step": 1, "train_loss": 4.5}\n{"step": 2, "train_')
    assert [r["step"] for r in follower.read()] == [1]
    assert follower.read() == []
    _append(path, b'loss": 4.1}\n')
    assert follower.read() == [{"step": 2, "train_loss": 4.1}]
    assert follower.malformed == 0


def test_malformed_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1}\nnot json\n\n[1, 2]\n{"step": 2, "val_loss": NaN}\n{"step"\n')
    follower = JsonlFollower(path)
    records = follower.read()
    assert [r["step"] for r in records] == [1, 2]
    assert math.isnan(records[1]["val_loss"])
    assert follower.malformed == 3


def test_a_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n')
    follower = JsonlFollower(path)
    assert len(follower.read()) == 3 and follower.reader.generation == 0
    path.write_text('{"step": 1}\n')  # a new run in the same folder
    assert follower.read() == [{"step": 1}]
    assert follower.reader.generation == 1


def test_a_replaced_file_is_followed_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("one\ntwo\n")
    reader = TailReader(path)
    assert reader.read_lines() == ["one", "two"]
    (tmp_path / "new.log").write_text("fresh line that is longer than before\n")
    (tmp_path / "new.log").replace(path)
    assert reader.read_lines() == ["fresh line that is longer than before"]


def test_start_at_end_keeps_only_a_backlog_of_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "echo-brain.log"
    path.write_text("".join(f"line {i:04d}\n" for i in range(1000)))
    reader = TailReader(path, start_at_end=True, backlog=100)
    lines = reader.read_lines()
    assert lines[-1] == "line 0999" and 5 <= len(lines) <= 10
    assert all(line.startswith("line ") for line in lines)
    _append(path, "서버 시작 · started\r\n".encode() + b"bad \xff byte\n")
    assert reader.read_lines() == ["서버 시작 · started", "bad \ufffd byte"]


def test_read_json_is_none_for_missing_or_half_written(tmp_path: Path) -> None:
    assert read_json(tmp_path / "train.json") is None
    (tmp_path / "train.json").write_text('{"steps": 12')
    assert read_json(tmp_path / "train.json") is None
    (tmp_path / "train.json").write_text('{"steps": 12}')
    assert read_json(tmp_path / "train.json") == {"steps": 12}
