"""Atomic files: write to a temporary name beside the target, fsync, rename."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from origin_model.errors import write_failed

TMP_SUFFIX = ".tmp"


def tmp_path(target: Path) -> Path:
    """The temporary name a file is written under before it is renamed into place."""
    return target.with_name(f".{target.name}{TMP_SUFFIX}")


def fsync_dir(folder: Path) -> None:
    """Make a rename in this folder durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp) then rename tmp over target; on any failure remove tmp, keep target."""
    tmp = tmp_path(target)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as RuntimeError
        tmp.unlink(missing_ok=True)
        raise write_failed(str(target), exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Atomically replace a text file."""
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def remove_stale_tmp(folder: Path) -> list[str]:
    """Delete temporary files a killed run left behind; their names."""
    removed = []
    for path in folder.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    return removed


@contextlib.contextmanager
def guarded_write(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` into the bilingual TrainError."""
    try:
        yield
    except OSError as exc:
        raise write_failed(str(path), exc) from None
