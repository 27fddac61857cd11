"""The recall database has a schema version: an old file is migrated once, a current one is
opened without any script, anything else is rebuilt (it is a cache)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.memory.recall import store as recall_store
from core.memory.recall.store import RECALL_DB, SCHEMA_VERSION, _migrate, _open


def statements(path: Path) -> list[str]:
    conn = sqlite3.connect(path, isolation_level=None)
    said: list[str] = []
    conn.set_trace_callback(said.append)
    _migrate(conn)
    conn.close()
    return said


def test_an_old_file_is_migrated_once_and_keeps_its_vectors(tmp_path: Path) -> None:
    path = tmp_path / RECALL_DB
    with sqlite3.connect(path) as old:  # version 1 as it was written before
        old.executescript(
            "CREATE TABLE vectors(rowid INTEGER PRIMARY KEY, digest INTEGER NOT NULL, "
            "seq INTEGER NOT NULL, vec BLOB NOT NULL); INSERT INTO vectors VALUES (7, 1, 1, x'00');"
            "CREATE VIRTUAL TABLE morph_fts USING fts5(terms); PRAGMA user_version=1;")
    said = statements(path)
    assert any("DROP TABLE IF EXISTS morph_fts" in s for s in said)
    conn = _open(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT rowid FROM vectors").fetchall() == [(7,)]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "morph_fts" not in names and {"morphs", "graph_removals"} <= names
    finally:
        conn.close()
    assert not any("DROP" in s or "CREATE" in s for s in statements(path))  # current: no script


def test_a_file_of_another_layout_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / RECALL_DB
    with sqlite3.connect(path) as other:
        other.executescript("CREATE TABLE vectors(x); PRAGMA user_version=99;")
    conn = _open(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 0
    finally:
        conn.close()
    assert recall_store.MIGRATIONS  # every older version this code still reads has a step
