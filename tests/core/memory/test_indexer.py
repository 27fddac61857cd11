"""The indexer process: kill -9 mid-embedding loses nothing and redoes no finished work."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from core.memory.recall.enrich import BATCH, enrich_all
from core.memory.recall.indexer import job_lock, read_progress
from core.memory.recall.store import RECALL_DB
from core.memory.replay import replay_archive
from tests.core.memory.support import child_env

REPO = Path(__file__).resolve().parents[3]
TOPICS = ["바다", "등산", "요리", "음악", "여행", "공부", "운동", "영화"]
LINES = 80


def _archive(memory: Path) -> None:
    folder = memory / "day0401" / "user"
    folder.mkdir(parents=True)
    body = "".join(f"{i}번째 이야기: 오늘은 {TOPICS[i % 8]}에 대해 오래 말했다\n"
                   for i in range(LINES))
    (folder / "part1.txt").write_text("나의 말:\n" + body, encoding="utf-8")
    replay_archive(memory, REPO / "manifest")


def _vectors(memory: Path) -> dict[int, int]:
    conn = sqlite3.connect(memory / RECALL_DB, timeout=30)
    try:
        return dict(conn.execute("SELECT rowid, seq FROM vectors").fetchall())
    except sqlite3.OperationalError:  # not created yet
        return {}
    finally:
        conn.close()


def test_kill_9_mid_embedding_loses_nothing_and_redoes_nothing(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    _archive(memory)
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.memory.recall.indexer", str(memory), "--nice", "0"],
        env=child_env(OMP_WAIT_POLICY="passive"), stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_vectors(memory)) < 2 * BATCH:
            assert proc.poll() is None and time.monotonic() < deadline, "the indexer stalled"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kept = _vectors(memory)
    assert 2 * BATCH <= len(kept) < LINES  # killed mid-way
    with job_lock(memory, wait=False) as free:
        assert free  # a killed holder frees the lock
    enrich_all(memory)
    final = _vectors(memory)
    assert len(final) == LINES
    assert {r: final[r] for r in kept} == kept  # no finished line was embedded again
    assert max(final.values()) == LINES  # every line embedded exactly once
    doc = read_progress(memory)
    assert doc is not None and doc["done"] == doc["total"] == doc["morph_done"] == LINES
