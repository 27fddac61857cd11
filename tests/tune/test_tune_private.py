"""What `echo-brain tune` writes (the adapter, its checkpoint, metrics, token cache) is as
private as the memory it learned from: 0600 / 0700."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.origin_model.archive import make_archive
from tests.tune.conftest import run_tune


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The command starts under a permissive umask (022): only its own care makes it private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_tuning_run_writes_only_private_files(tmp_path: Path, tiny_model: Path) -> None:
    models = tmp_path / "models"
    models.mkdir(mode=0o755)
    shutil.copy(tiny_model, models / tiny_model.name)
    memory = make_archive(tmp_path / "memory", parts=1)
    done = run_tune(models, "--memory-dir", memory, "--steps", "1", "--context", "48",
                    "--batch-size", "2", "--threads", "1", "--rank", "4",
                    ECHO_SELF_MODEL=tiny_model.name)
    assert done.returncode == 0, done.stderr
    run = models / "lora" / "self"
    assert (run / "self-lora.gguf").is_file() and (run / "tune.json").is_file()
    loose = [f"{p} {oct(stat.S_IMODE(p.lstat().st_mode))}"
             for p in (models / "lora", *(models / "lora").rglob("*"))
             if stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert loose == []
