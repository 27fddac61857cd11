"""What `echo-brain train` writes is as private as the memory it learned from: 0600 / 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.origin_model.archive import make_archive
from tests.origin_model.conftest import run_train


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The command starts under a permissive umask (022): only its own care makes it private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def loose(root: Path) -> list[str]:
    """Entries under root (root included) readable by group or others."""
    return [f"{p} {oct(stat.S_IMODE(p.lstat().st_mode))}" for p in (root, *root.rglob("*"))
            if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077]


def test_a_training_run_writes_only_private_files(tmp_path: Path) -> None:
    memory = make_archive(tmp_path / "memory", parts=1)
    models = tmp_path / "models"
    (models / "origin").mkdir(parents=True)
    older = models / "origin" / "notes.txt"  # left by an older version, readable by all
    older.write_text("old\n")
    older.chmod(0o644)
    (models / "origin").chmod(0o755)
    done = run_train(models, "--memory-dir", memory, "--steps", "2", "--batch-size", "4",
                     "--threads", "1", "--json")
    assert done.returncode == 0, done.stderr
    written = {p.name for p in (models / "origin").rglob("*")}
    assert {"origin-nano.gguf", "origin-nano.safetensors", "tokenizer.model",
            "metrics.jsonl"} <= written, written
    assert loose(models / "origin") == []  # the run folder, and what it held before
