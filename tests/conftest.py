"""Shared fixtures: every path points into tmp_path, never the repo's own folders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# Marked here, by file, so that a new test in such a file is marked without thinking of it:
# `make test-fast` runs `-m "not e2e and not slow"`, `make test` runs everything.
E2E_FILE = re.compile(r"(_e2e|_browser|^test_window\w*)\.py$")
SLOW_FILES: frozenset[str] = frozenset()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark end-to-end and slow tests by the file they live in."""
    for item in items:
        name = item.path.name
        if E2E_FILE.search(name):
            item.add_marker(pytest.mark.e2e)
        rel = item.path.relative_to(REPO).as_posix() if item.path.is_relative_to(REPO) else name
        if rel in SLOW_FILES:
            item.add_marker(pytest.mark.slow)

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
