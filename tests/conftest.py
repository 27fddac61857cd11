"""Shared fixtures: every path points into tmp_path, never the repo's own folders."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

# Rich wraps what the CLI prints at 80 columns when it is not a terminal: a long tmp path
# (pytest-xdist adds popen-gwN/ to each) then breaks in the middle. Tests read it at 200.
os.environ["COLUMNS"] = "200"

# Marked here, by file, so that a new test in such a file is marked without thinking of it:
# `make test-fast` runs `-m "not e2e and not slow"`, `make test` runs everything.
E2E_FILE = re.compile(r"(_e2e|_browser|^test_window\w*)\.py$")
# Files whose tests took 5 s or more in all (`pytest --durations`, 2 cores, 2026-12-03):
# training and tuning runs, worker processes, CLI subprocesses, the fuzzer.
SLOW_FILES: frozenset[str] = frozenset({
    "tests/origin_model/test_train_cli.py", "tests/origin_model/test_bad_input.py",
    "tests/origin_model/test_compile_fallback.py", "tests/origin_model/test_train_private.py",
    "tests/origin_model/test_model.py", "tests/origin_model/test_zip_origin.py",
    "tests/tune/test_model.py", "tests/tune/test_tune_cli.py", "tests/tune/test_parity.py",
    "tests/tune/test_device.py", "tests/tune/test_tune_private.py",
    "tests/tune/test_missing_packages.py", "tests/trainkit/test_same_losses.py",
    "tests/trainkit/test_accel.py", "tests/llm/test_prefix_cache_worker.py",
    "tests/llm/test_worker_process.py", "tests/llm/test_live_state.py",
    "tests/llm/test_adapter.py", "tests/dashboard/test_cli.py", "tests/api/test_openapi_fuzz.py",
    "tests/cli/test_cli.py", "tests/cli/test_forget_cli.py", "tests/cli/test_serve_gate.py",
    "tests/core/memory/test_store.py", "tests/core/memory/test_engine_threads.py",
    "tests/core/deploy/test_fetch.py",
})


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
    for var in list(os.environ):
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
    return Path(os.environ.get("ECHO_MODELS_DIR", REPO / "models")).resolve()
