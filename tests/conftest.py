"""Shared fixtures: every path points into tmp_path, never the repo's own folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point memory, backup, manifest and origin at tmp_path; models stay where setup put them."""
    for var in list(__import__("os").environ):
        if var.startswith("ECHO_") and var != "ECHO_MODELS_DIR":
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ECHO_MEMORY_DIR", str(tmp_path / "memory"))
    monkeypatch.setenv("ECHO_MEMORY_BACKUP_DIR", str(tmp_path / "memory_backup"))
    monkeypatch.setenv("ECHO_ORIGIN_DIR", str(tmp_path / "origin"))
    monkeypatch.setenv("ECHO_MANIFEST_DIR", str(REPO / "manifest"))
    monkeypatch.setenv("ECHO_MODELS_DIR", str(models_dir()))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def models_dir() -> Path:
    """Where setup put the demo model (ECHO_MODELS_DIR, else the repo's models/)."""
    import os

    return Path(os.environ.get("ECHO_MODELS_DIR", REPO / "models")).resolve()
