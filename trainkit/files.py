"""The run folder's files: whole or not at all (core.fsio), failures as bilingual errors.

Every file of a run (checkpoint, token files, metrics, summary, adapter) is written under a
temporary `.<name>...tmp` name beside its target and renamed into place; a run killed
mid-write leaves only such names, which the next run removes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from core.fsio import atomic_write, atomic_write_with
from trainkit.errors import write_failed

TMP_SUFFIX = ".tmp"
Record = TypeVar("Record")


def tmp_path(target: Path) -> Path:
    """The temporary name a file built in several steps is written under before its rename."""
    return target.with_name(f".{target.name}{TMP_SUFFIX}")


def write_with(target: Path, write: Callable[[Path], object]) -> None:
    """Call write(temp), then rename it over target; on failure target is kept (TrainError)."""
    try:
        atomic_write_with(target, write)
    except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as RuntimeError
        raise write_failed(str(target), exc) from None


def write_bytes(target: Path, data: bytes) -> None:
    """Atomically replace a file by data (TrainError on failure)."""
    with guarded_write(target):
        atomic_write(target, data)


def write_text(target: Path, text: str) -> None:
    """Atomically replace a text file."""
    write_bytes(target, text.encode("utf-8"))


def write_json(target: Path, doc: dict[str, Any]) -> None:
    """Atomically write a JSON document (train.json, tune.json, meta.json)."""
    write_text(target, json.dumps(doc, indent=2, ensure_ascii=False))


def read_record(path: Path, kind: Callable[..., Record]) -> Record | None:
    """The record a JSON file holds (data/meta.json); None when missing, damaged or stale."""
    try:
        return kind(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


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
