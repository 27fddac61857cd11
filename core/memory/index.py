"""The memory search index: SQLite FTS5 with the trigram tokenizer, built incrementally.

One database inside the memory root (`memory/.echo_index.sqlite3`, WAL mode):
- `parts`: one row per part file (size, mtime_ns, line count, stats) so an unchanged
  part is not read again, and its clean lines stored once, as one text (`body`, lines
  joined by newlines) with their raw line numbers and speakers beside it;
- `lines_fts0` .. `lines_fts15`: contentless trigram FTS5 tables with detail=none (which
  lines hold which trigrams, rowid = part id << 24 | raw line number; at most INDEX_CHARS
  characters of a line are indexed), a part's lines in table `part id % 16` (rows.py);
- `turns`: the Idempotency-Keys of appended turns.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.memory import search as ms
from core.memory.read import PartRead
from core.memory.rows import (
    FTS_TABLES,
    PART_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    Candidate,
    PartRow,
    SearchHit,
    candidates,
    decode_lines,
    encode_lines,
    fts_rowids,
    fts_rows,
    fts_table,
    number_of,
    part_id_of,
)

log = logging.getLogger(__name__)
_DROP_FTS = "".join(f"DROP TABLE IF EXISTS {t};" for t in FTS_TABLES)

DB_NAME = ".echo_index.sqlite3"
CANDIDATES = 2000
FtsSink = Callable[[list[tuple[int, str]]], None]


class MemoryIndex:
    """Search over the archive; safe to share between threads and processes."""

    def __init__(self, memory_dir: Path) -> None:
        self.memory_dir = Path(memory_dir)
        self.db_path = self.memory_dir / DB_NAME
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is not None and _inode(self.db_path) != self._inode:
            self.close()  # deleted (a guest's forgotten tree) or replaced: follow the file
        if self._conn is None:
            self.memory_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.db_path, timeout=120, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=120000")
            conn.execute("PRAGMA secure_delete=ON")  # freed bytes are overwritten: see forget/
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                conn.executescript(  # an older layout is a cache: drop it, the replay refills
                    "BEGIN IMMEDIATE; DROP TABLE IF EXISTS lines; DROP TABLE IF EXISTS parts;"
                    f"DROP TABLE IF EXISTS lines_fts;{_DROP_FTS}{SCHEMA}"
                    f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
                )
            self._conn = conn
            self._inode = _inode(self.db_path)
        return self._conn

    @contextmanager
    def transaction(self, bulk: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); `bulk` relaxes syncing for a rebuild."""
        with self._lock:
            conn = self._db()
            if bulk:
                conn.execute("PRAGMA synchronous=OFF")
                conn.execute("PRAGMA cache_size=-131072")
            try:
                conn.execute("BEGIN IMMEDIATE")
                with _transaction(conn):
                    yield conn
            finally:
                if bulk:
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("PRAGMA cache_size=-2000")

    def known_parts(self) -> dict[str, PartRow]:
        """Every part the index holds, by path relative to the memory root."""
        with self._lock:
            rows = self._db().execute(f"SELECT {PART_COLUMNS} FROM parts").fetchall()
        return {row[1]: PartRow(*row) for row in rows}

    def write_parts(
        self, conn: sqlite3.Connection, reads: Iterable[PartRead], fts_sink: FtsSink | None = None
    ) -> int:
        """(Re)index parts inside an open transaction; returns the lines written.

        With `fts_sink` the FTS rows go there (a cold build) instead of into the FTS tables.
        """
        written = 0
        for read in reads:
            written += self._write_part(conn, read, fts_sink)
        return written

    def _write_part(
        self, conn: sqlite3.Connection, read: PartRead, fts_sink: FtsSink | None
    ) -> int:
        row = conn.execute("SELECT id FROM parts WHERE path=?", (read.rel,)).fetchone()
        stats = json.dumps({"terms": read.terms, "speakers": read.speakers}, ensure_ascii=False)
        body, numbers, speakers = encode_lines(read.rows)
        values = (read.day, read.part, read.size, read.mtime_ns, len(read.rows), read.headers,
                  stats, body, numbers, speakers)
        if row is None:
            part_id = conn.execute(
                "INSERT INTO parts(day, part, size, mtime_ns, lines, headers, stats, body, "
                "numbers, speakers, path) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (*values, read.rel),
            ).lastrowid
        else:
            part_id = row[0]
            self._delete_lines(conn, part_id)
            conn.execute(
                "UPDATE parts SET day=?, part=?, size=?, mtime_ns=?, lines=?, headers=?, stats=?, "
                "body=?, numbers=?, speakers=? WHERE id=?",
                (*values, part_id),
            )
        assert part_id is not None
        rows = fts_rows(part_id, read.rows)
        if fts_sink is not None:
            fts_sink(rows)
        else:
            table = fts_table(part_id)
            conn.executemany(f"INSERT INTO {table}(rowid, text) VALUES (?,?)", rows)
        return len(rows)

    def _delete_lines(self, conn: sqlite3.Connection, part_id: int) -> None:
        row = conn.execute(
            "SELECT body, numbers, speakers FROM parts WHERE id=?", (part_id,)
        ).fetchone()
        if row is None:
            return
        table = fts_table(part_id)
        conn.executemany(
            f"INSERT INTO {table}({table}, rowid, text) VALUES ('delete',?,?)",
            fts_rows(part_id, decode_lines(*row)),
        )

    def drop_parts(self, conn: sqlite3.Connection, paths: Iterable[str]) -> None:
        """Forget parts that are gone from the archive (inside an open transaction)."""
        for path in paths:
            row = conn.execute("SELECT id FROM parts WHERE path=?", (path,)).fetchone()
            if row is not None:
                self._delete_lines(conn, row[0])
                conn.execute("DELETE FROM parts WHERE id=?", (row[0],))

    def get_turn(self, key: str) -> tuple[str, int, int, str, int] | None:
        """(path, offset, length, digest, done) recorded for an idempotency key, if any."""
        with self._lock:
            row = self._db().execute(
                "SELECT path, offset, length, digest, done FROM turns WHERE key=?", (key,)
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    def put_turn(
        self, conn: sqlite3.Connection, key: str, path: str, offset: int, length: int,
        digest: str, done: bool,
    ) -> None:
        """Record (or update) an idempotency key inside an open transaction."""
        conn.execute(
            "INSERT OR REPLACE INTO turns(key, path, offset, length, digest, done) "
            "VALUES (?,?,?,?,?,?)",
            (key, path, offset, length, digest, int(done)),
        )

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        """Lines holding the phrase (case-insensitive, inside words too), best first."""
        phrase = ms.normalize_query(query)
        k = max(0, min(int(k), 1000))
        if not phrase or k == 0:
            return []
        try:
            match = ms.phrase_match(phrase)
            if match is None:
                rows = self.lines_holding([phrase], k * 20)
            else:
                rows = self._candidates(match)
            return self._hits(ms.rank_phrase(rows, phrase, k))
        except sqlite3.Error as exc:
            log.warning("memory search failed: %s", exc)
            return []

    def context_for(self, prompt: str, k: int = 8) -> list[SearchHit]:
        """The lines that best match a free-form prompt (terms OR-ed, BM25-ranked)."""
        try:
            terms = ms.prompt_terms(prompt)
            k = max(0, min(int(k), 100))
            if not terms or k == 0:
                return []
            match = ms.any_match(terms)
            rows = self._candidates(match) if match else self.lines_holding(terms, 500)
            return self._hits(ms.rank_terms(rows, terms, max(self.line_count(), 1), k))
        except (sqlite3.Error, ValueError) as exc:
            log.warning("memory context lookup failed: %s", exc)
            return []

    def _candidates(self, match: str) -> list[Candidate]:
        with self._lock:
            found = fts_rowids(self._db(), match, CANDIDATES, newest=True)
        return self._lines(found)

    def lines_holding(self, needles: list[str], limit: int) -> list[Candidate]:
        """Lines holding any needle, newest parts first: a scan of the parts (LIKE), for
        words too short for the trigram table (under 3 characters, such as "바다")."""
        where = " OR ".join("body LIKE ? ESCAPE '\\'" for _ in needles)
        with self._lock:
            parts = self._db().execute(
                f"SELECT id, body, numbers, speakers FROM parts WHERE {where} "
                "ORDER BY id DESC LIMIT ?",
                (*(ms.like_pattern(n) for n in needles), limit),
            ).fetchall()
        folded = [n.casefold() for n in needles]
        def holds_a_needle(_: int, text: str) -> bool:
            return any(n in text.casefold() for n in folded)

        rows: list[Candidate] = []
        for part_id, *stored in parts:
            found = candidates(part_id, decode_lines(*stored), holds_a_needle)
            rows.extend(reversed(list(found)))
        return rows[:limit]

    def _lines(self, rowids: list[int]) -> list[Candidate]:
        """Some lines by rowid, in the order asked."""
        wanted = {part_id_of(rowid) for rowid in rowids}
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        with self._lock:
            parts = self._db().execute(
                f"SELECT id, body, numbers, speakers FROM parts WHERE id IN ({marks})",
                sorted(wanted),
            ).fetchall()
        asked = set(rowids)
        found: dict[int, Candidate] = {}
        for part_id, *stored in parts:
            lines = decode_lines(*stored)
            found.update((c.rowid, c) for c in candidates(part_id, lines, lambda r, _: r in asked))
        return [found[rowid] for rowid in rowids if rowid in found]

    def _hits(self, rows: list[Candidate]) -> list[SearchHit]:
        ids = sorted({part_id_of(row.rowid) for row in rows})
        if not ids:
            return []
        with self._lock:
            marks = ",".join("?" * len(ids))
            found = self._db().execute(
                f"SELECT id, path, day, part FROM parts WHERE id IN ({marks})", ids
            )
            parts = {pid: (path, day, part) for pid, path, day, part in found.fetchall()}
        hits = []
        prefix = self.memory_dir.name
        for row in rows:
            path, day, part = parts[part_id_of(row.rowid)]
            line = number_of(row.rowid)
            hits.append(SearchHit(day, part, line, row.text, f"{prefix}/{path}", row.speaker))
        return hits

    def line_count(self) -> int:
        """How many clean lines the index holds."""
        with self._lock:
            return int(self._db().execute("SELECT total(lines) FROM parts").fetchone()[0])

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database and truncate it (after a forget)."""
        with self._lock:
            if self._db().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                log.warning("a reader kept the index's write-ahead log from being truncated")

    def close(self) -> None:
        """Close the database connection (it reopens on the next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __del__(self) -> None:
        # Python 3.13+ warns about connections left to the garbage collector.
        if getattr(self, "_conn", None) is not None:
            with contextlib.suppress(Exception):
                self.close()


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        if conn.in_transaction:
            conn.execute("COMMIT")
