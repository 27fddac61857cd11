"""Everything the server writes is private (0600 files, 0700 folders), by stat'ing the real
files after a real turn, a real project and a real circuit's prefix cache (the demo model)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import load_settings
from tests.conftest import models_dir

ORIGIN = "private-origin-token"
ORIGIN_HEADERS = {"Authorization": f"Bearer {ORIGIN}"}


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A permissive umask (022): only the server's own care can make its files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def loose(root: Path) -> list[str]:
    """Entries under root (root included, symlinks not) readable by group or others."""
    return [f"{p} {oct(stat.S_IMODE(p.lstat().st_mode))}"
            for p in (root, *root.rglob("*"))
            if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077]


def test_turns_backup_indexes_projects_and_prefix_cache_are_private(tmp_path: Path) -> None:
    memory, backup, origin, cache = (tmp_path / n for n in ("memory", "backup", "origin", "cache"))
    (memory / "day0101").mkdir(parents=True, mode=0o755)
    older = memory / "day0101" / "part1.txt"  # what an older version wrote
    older.write_text("나의 말:\n등대 이야기를 좋아해\n", encoding="utf-8")
    older.chmod(0o644)
    memory.chmod(0o755)
    settings = load_settings(
        emotion_model="echo", creation_model="echo", models_dir=models_dir(),
        memory_dir=memory, memory_backup_dir=backup, origin_dir=origin, cache_dir=cache,
        origin_token=ORIGIN, n_ctx=2048, max_tokens=8, recall_indexer=False,
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 240  # the demo model warms its prefix
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/ready").status_code == 200
        turn = client.post("/api/ask", json={"prompt": "안녕, 오늘 어땠어?"},
                           headers=ORIGIN_HEADERS)
        assert turn.status_code == 200 and turn.json()["memory"]["saved"] is True, turn.text
        made = client.post("/api/ask", json={"prompt": "create project: lighthouse"},
                           headers=ORIGIN_HEADERS)
        assert made.status_code == 201, made.text
        running = {p.name for root in (memory, backup, origin, cache) for p in root.rglob("*")}
        assert any(n.endswith(("-wal", "-shm")) for n in running), running  # open databases
        assert [x for root in (memory, backup, origin) for x in loose(root)] == []
    assert os.umask(0o022) == 0o022  # the server put the process's umask back
    written = {p.name for root in (memory, backup, origin, cache) for p in root.rglob("*")}
    assert {"part1.txt", "README.md", ".echo_index.sqlite3"} <= written, written
    assert list(backup.rglob("part*.txt")) and list(cache.rglob("*.*")), written
    assert list((origin / "projects").iterdir())
    for root in (memory, backup, origin, cache):
        assert loose(root) == [], root
