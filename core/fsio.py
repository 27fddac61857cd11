"""The one home of durable file writes: whole writes, fsync, atomic replace, folder locks.

Every writer in `core/` goes through here: the memory appends and their mirror,
insight.json, and the files of a created project; the training kit's checkpoints, token
files and adapters too (`atomic_write_with`, for writers that want a path). What it writes
is private, as the memory is: files 0600, folders 0700 (`private_umask` covers what other
libraries write: SQLite and its -wal/-shm, the prefix cache, training runs).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
PRIVATE_UMASK = 0o077
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may take fewer than asked), then fsync."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in the folder durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700 folders (existing ones are left alone)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
    return path


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Replace `path` by `data`: temporary file beside it, fsync, rename, fsync the folder.

    After a crash at any moment `path` is the old file or the new one; on an error the
    temporary file is removed and `path` is untouched. The file gets `mode` (0600: private).
    """
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # a temp left by a killed writer keeps its old mode otherwise
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_with(path: Path, write: Callable[[Path], object],
                      mode: int = PRIVATE_FILE) -> None:
    """Replace `path` by what `write(temp)` puts in a temporary file beside it (torch.save,
    a GGUF writer): fsync, `mode`, rename, fsync the folder; the guarantees of `atomic_write`."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(temp)
        with open(temp, "rb+") as handle:
            os.fchmod(handle.fileno(), mode)  # the writer made it with its own mode
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def create_new(path: Path, data: bytes) -> None:
    """Create a file that must not exist yet, never through a symlink, written whole and fsynced."""
    fd = os.open(path, _NEW_FILE, PRIVATE_FILE)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive lock on a folder (flock; created 0700 when missing) across threads, processes."""
    private_dir(folder)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def private_umask() -> Iterator[None]:
    """While inside, every file and folder this process creates is 0600 / 0700 at most.

    The umask is the process's: it covers the writers we do not own (SQLite with its -wal and
    -shm, torch, sentencepiece, worker processes started meanwhile). Restored on the way out.
    """
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def tighten(root: Path) -> int:
    """Take group and other permissions off `root` and everything under it (symlinks are not
    followed); how many entries changed. Files written before modes were private become so."""
    changed = 0
    if not root.is_dir() or root.is_symlink():
        return 0
    for folder, dirs, files in os.walk(root):
        for path in (Path(folder), *(Path(folder) / n for n in (*dirs, *files))):
            changed += _tighten_one(path)
        dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
    return changed


def _tighten_one(path: Path) -> int:
    try:
        info = path.lstat()
        if path.is_symlink() or info.st_uid != os.getuid() or not info.st_mode & 0o077:
            return 0
        os.chmod(path, info.st_mode & 0o700)
    except OSError:
        return 0
    return 1
