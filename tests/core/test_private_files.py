"""Files 0600, folders 0700: core.fsio's writers, the umask, and tightening an older tree."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import fsio


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A permissive umask (022), so that only our own modes can make a file private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def assert_private(root: Path) -> list[Path]:
    """Every entry under root (root included, symlinks not): files 0600 at most, folders 0700."""
    entries = [p for p in (root, *root.rglob("*")) if not p.is_symlink()]
    for path in entries:
        limit = 0o700 if path.is_dir() else 0o600
        assert mode(path) & ~limit == 0, f"{path} is {oct(mode(path))}"
    return entries


def test_atomic_write_makes_a_private_file_in_private_new_folders(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir(mode=0o755)
    target = tmp_path / "home" / "memory" / "day0101" / "user" / "part1.txt"
    fsio.atomic_write(target, "나의 말:\n안녕\n".encode())
    assert mode(target) == 0o600
    for folder in (target.parent, target.parent.parent, tmp_path / "home" / "memory"):
        assert mode(folder) == 0o700
    assert mode(tmp_path / "home") == 0o755  # an existing folder is left as it was


def test_atomic_write_over_an_older_readable_file_makes_it_private(tmp_path: Path) -> None:
    target = tmp_path / "insight.json"
    target.write_text("{}")
    target.chmod(0o644)
    stale = tmp_path / f".insight.json.{os.getpid()}.1.tmp"  # not this thread's: kept
    fsio.atomic_write(target, b'{"lines": 1}')
    assert mode(target) == 0o600 and target.read_bytes() == b'{"lines": 1}'
    assert not stale.exists()


def test_create_new_and_folder_lock_are_private(tmp_path: Path) -> None:
    fsio.create_new(tmp_path / "README.md", b"# project\n")
    assert mode(tmp_path / "README.md") == 0o600
    with fsio.folder_lock(tmp_path / "a" / "b"):
        assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700


def test_private_umask_covers_writers_we_do_not_own_and_is_restored(tmp_path: Path) -> None:
    import sqlite3

    before = os.umask(0o022)  # whatever an earlier test left, put back after the check
    os.umask(before)
    with fsio.private_umask():
        conn = sqlite3.connect(tmp_path / "index.sqlite3")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        (tmp_path / "folder").mkdir()
        names = sorted(p.name for p in tmp_path.iterdir())
        assert "index.sqlite3-wal" in names and "index.sqlite3-shm" in names
        assert_private(tmp_path / "folder")
        for name in names:
            if name.startswith("index"):
                assert mode(tmp_path / name) == 0o600, name
        conn.close()
    assert os.umask(before) == before  # restored


def test_tighten_takes_group_and_other_bits_off_a_tree_without_following_links(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "memory"
    (tree / "day0101").mkdir(parents=True)
    (tree / "day0101" / "part1.txt").write_text("old line\n")
    (tree / "day0101" / "part1.txt").chmod(0o664)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours to change\n")
    (tree / "link.txt").symlink_to(outside)
    tree.chmod(0o755)
    assert fsio.tighten(tree) == 3  # the root, the day folder, the part
    assert_private(tree)
    assert mode(outside) == 0o644
    assert fsio.tighten(tree) == 0 and fsio.tighten(tmp_path / "missing") == 0
