"""The recall database beside the index: morpheme terms, line vectors, enrichment progress.

`memory/.echo_recall.sqlite3` (WAL) holds what the background job derives from the index:
- `morphs`: each line's morpheme terms (space-separated), rowid = the line's index rowid,
  and `seq`, the order it was written in (an empty text: the line is gone); servers rank
  them with BM25 in memory (core/memory/recall/bm25.py says why not FTS5's bm25());
- `vectors`: one e5 passage vector per line (float16 blob), the digest of the text it
  was made from, and `seq`, the order it was written in (readers catch up by seq);
- `enriched`: per part, the (size, mtime_ns) signature its morphemes and its vectors are
  complete for;
- `meta`: the job's progress (JSON), the seq saved in the HNSW file, a forget counter;
- `graph_removals`: rowids of forgotten lines the job must still wipe from its graph.

Every connection runs with `secure_delete`: a deleted row's bytes are overwritten, so a
forgotten line's terms and vector do not linger in free pages.

It is a cache of the archive: when it cannot be opened or read (corrupt, other layout)
the job (the one writer) deletes and rebuilds it, never a crash. Readers (the servers)
never create or change it: until it is usable their reads fail fast (sqlite3.Error) and
recall answers from the other paths.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads lazily: the server's import time is timed (a port probe)
    import numpy as np

log = logging.getLogger(__name__)

RECALL_DB = ".echo_recall.sqlite3"
SCHEMA_VERSION = 2  # PRAGMA user_version; MIGRATIONS lead an older file here step by step
READ_TIMEOUT_S = 0.5  # a reader never waits long: recall and /ready must stay fast
DIM = 384
# meta keys and the table every writer shares (the job, forgets, the readers)
PROGRESS = "progress"  # meta: the job's progress (JSON)
HNSW_SEQ = "hnsw_seq"  # meta: the newest seq the saved graph holds
HNSW_CHURN = "hnsw_churn"  # meta: keys removed or replaced since the graph was built
FORGETS = "forgets"  # meta: a counter every forget bumps (readers drop cached vectors)
REMOVALS = "graph_removals"  # rowids whose vectors the job must still wipe from its graph
HNSW_FILE = ".echo_vectors.usearch"  # the saved HNSW graph, beside the database (graph.py)
SCHEMA = """
CREATE TABLE IF NOT EXISTS morphs(
    rowid INTEGER PRIMARY KEY, seq INTEGER NOT NULL, terms TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS morphs_seq ON morphs(seq);
CREATE TABLE IF NOT EXISTS vectors(
    rowid INTEGER PRIMARY KEY, digest INTEGER NOT NULL, seq INTEGER NOT NULL, vec BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS vectors_seq ON vectors(seq);
CREATE TABLE IF NOT EXISTS enriched(
    part_id INTEGER PRIMARY KEY, path TEXT NOT NULL, morph TEXT, vec TEXT);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS graph_removals(rowid INTEGER PRIMARY KEY);
"""


# version -> the script that takes a file of that version to the next one
MIGRATIONS = {
    # 1 -> 2: the morphemes left FTS5 for `morphs` (the job re-analyses them; vectors stay);
    # forgetting added `graph_removals`
    1: f"DROP TABLE IF EXISTS morph_vocab; DROP TABLE IF EXISTS morph_fts;{SCHEMA}",
}
FRESH = ("DROP TABLE IF EXISTS morphs; DROP TABLE IF EXISTS vectors; DROP TABLE IF EXISTS "
         "enriched; DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS graph_removals;"
         "DROP TABLE IF EXISTS morph_vocab; DROP TABLE IF EXISTS morph_fts;" + SCHEMA)


def digest_of(text: str) -> int:
    """A stable signed 64-bit digest of a line's text (Python's hash() is salted)."""
    raw = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


def queue_graph_removals(conn: sqlite3.Connection, rowids: Iterable[int]) -> None:
    """Queue rowids whose vectors the job must wipe from its graph at its next save."""
    conn.executemany(f"INSERT OR IGNORE INTO {REMOVALS}(rowid) VALUES (?)",
                     [(int(r),) for r in rowids])


def encode_vector(vec: np.ndarray) -> bytes:
    """A vector as its float16 blob."""
    import numpy as np

    return np.asarray(vec, dtype=np.float16).tobytes()


def decode_vectors(blobs: list[bytes]) -> np.ndarray:
    """Blobs back to an (n, DIM) float32 matrix."""
    import numpy as np

    if not blobs:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(-1, DIM).astype(np.float32)


class RecallStore:
    """One connection to the recall database; safe to share between threads."""

    def __init__(self, memory_dir: Path, writer: bool = True) -> None:
        self.path = Path(memory_dir) / RECALL_DB
        self.writer = writer
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None

    def _reopen_if_replaced(self) -> None:
        """A reader follows the job when it deleted and rebuilt the database."""
        if self._conn is not None and _inode(self.path) != self._inode:
            self.close()

    def db(self) -> sqlite3.Connection:
        """The open connection (opened, and for the writer rebuilt when unreadable, on use)."""
        if not self.writer:
            self._reopen_if_replaced()
        if self._conn is None and not self.writer:
            self._conn = _open_reader(self.path)
            self._inode = _inode(self.path)
        if self._conn is None:
            try:
                self._conn = _open(self.path)
            except sqlite3.DatabaseError as exc:
                log.warning("recall database unreadable (%s): rebuilding it", exc)
                self.reset()
                self._conn = _open(self.path)
        return self._conn

    def reset(self) -> None:
        """Delete the database files (a cache: the job refills them)."""
        with self._lock:
            self.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction."""
        with self._lock:
            conn = self.db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if conn.in_transaction:
                conn.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        """Rows of one read."""
        with self._lock:
            return self.db().execute(sql, args).fetchall()

    def get_meta(self, key: str) -> Any:
        """A JSON value from `meta` (None when absent or unreadable)."""
        try:
            rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
            return json.loads(rows[0][0]) if rows else None
        except (sqlite3.Error, ValueError):
            return None

    def put_meta(self, conn: sqlite3.Connection, key: str, value: Any) -> None:
        """Set a JSON value in `meta` inside an open transaction."""
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def close(self) -> None:
        """Close the connection (it reopens on the next use)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    def __del__(self) -> None:
        if getattr(self, "_conn", None) is not None:
            with contextlib.suppress(Exception):
                self.close()


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _open_reader(path: Path) -> sqlite3.Connection:
    """A reading connection, only to a database the job made (fails fast otherwise)."""
    if not path.exists():
        raise sqlite3.OperationalError("no recall database yet")
    conn = sqlite3.connect(path, timeout=READ_TIMEOUT_S, isolation_level=None,
                           check_same_thread=False)
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            raise sqlite3.OperationalError("the recall database is not ready yet")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION: nothing when it is there already, the migrations
    from a known older version, a fresh layout from anything else (it is a cache)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    while version != SCHEMA_VERSION:
        script = MIGRATIONS.get(version, FRESH)
        target = version + 1 if version in MIGRATIONS else SCHEMA_VERSION
        conn.executescript(f"BEGIN IMMEDIATE;{script}PRAGMA user_version={target};COMMIT;")
        version = target


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=60000")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        _migrate(conn)
        conn.execute("SELECT count(*) FROM enriched").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn
