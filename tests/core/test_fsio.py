"""The one atomic write: whole data despite short writes, no temp file left on failure."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from core import fsio


def test_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "insight.json"
    fsio.atomic_write(target, b"old")
    fsio.atomic_write(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in target.parent.iterdir()) == ["insight.json"]


def test_short_writes_still_write_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls: list[int] = []

    def one_byte_at_a_time(fd: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        return real_write(fd, bytes(data[:1]))

    monkeypatch.setattr(fsio.os, "write", one_byte_at_a_time)
    data = "한 줄씩 / line by line\n".encode() * 3
    fsio.atomic_write(tmp_path / "part1.txt", data)
    monkeypatch.undo()
    assert (tmp_path / "part1.txt").read_bytes() == data
    assert len(calls) == len(data)


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "insight.json"
    target.write_bytes(b"the old insight")
    real_write = os.write
    written = 0

    def disk_full(fd: int, data: bytes | memoryview) -> int:
        nonlocal written
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = real_write(fd, bytes(data[:4]))
        return written

    monkeypatch.setattr(fsio.os, "write", disk_full)
    with pytest.raises(OSError, match="No space"):
        fsio.atomic_write(target, b"a much longer new insight")
    monkeypatch.undo()
    assert target.read_bytes() == b"the old insight"
    assert [p.name for p in tmp_path.iterdir()] == ["insight.json"]


def test_create_new_refuses_an_existing_file_and_a_symlink(tmp_path: Path) -> None:
    fsio.create_new(tmp_path / "main.py", b"print('hi')\n")
    assert (tmp_path / "main.py").read_bytes() == b"print('hi')\n"
    with pytest.raises(FileExistsError):
        fsio.create_new(tmp_path / "main.py", b"again")
    (tmp_path / "link.py").symlink_to(tmp_path / "elsewhere.py")
    with pytest.raises(OSError):
        fsio.create_new(tmp_path / "link.py", b"through a link")
    assert not (tmp_path / "elsewhere.py").exists()


def test_atomic_write_with_a_writer_gives_a_whole_private_file_or_the_old_one(
    tmp_path: Path,
) -> None:
    target = tmp_path / "checkpoint.pt"
    fsio.atomic_write_with(target, lambda temp: temp.write_bytes(b"first"))
    os.chmod(target, 0o644)
    fsio.atomic_write_with(target, lambda temp: temp.write_bytes(b"second"))
    assert target.read_bytes() == b"second" and target.stat().st_mode & 0o777 == 0o600

    def half_then_fail(temp: Path) -> None:
        temp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        fsio.atomic_write_with(target, half_then_fail)
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
