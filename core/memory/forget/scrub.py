"""Removing forgotten lines from what is derived from the archive: the search index, the
recall database (morpheme terms, vectors) and the saved HNSW graph.

Every step is idempotent (a start completes an interrupted forget by running them again):
- the index re-reads the part (its lines, their trigrams in FTS5 and the part's stored text
  are replaced), then FTS5's segments are merged so no old posting of the line is kept;
- a line's terms (and its vector, when its passage holds neighbours) hold its neighbours'
  (core/memory/recall/terms.py): the neighbours' terms (vectors) go with it, and the job
  makes them again from the part as it is now;
- the graph file gets the lines' vectors overwritten in place, then the recall database
  drops their vectors, marks their terms gone (readers catch up by seq), asks the job to
  wipe them from the graph it holds in memory, and bumps the forget counter (servers drop
  their cached vectors);
- both databases run with `secure_delete` and are checkpointed (TRUNCATE) afterwards, so
  the bytes linger neither in free pages nor in the write-ahead log.
"""

from __future__ import annotations

import bisect
import logging
import os
import sqlite3
from pathlib import Path

from core.memory.archive import PartFile
from core.memory.index import MemoryIndex
from core.memory.read import part_from_bytes
from core.memory.recall.store import (
    FORGETS,
    HNSW_FILE,
    RECALL_DB,
    RecallStore,
    queue_graph_removals,
)
from core.memory.recall.terms import CONTEXT, TERMS_CONTEXT
from core.memory.recall.vector_scrub import graph_lock, zero_vectors
from core.memory.rows import LINE_BITS, fts_table, rowid_of

log = logging.getLogger(__name__)

MERGE_CACHE_KIB = -65536  # SQLite's negative cache_size: KiB (64 MiB while the FTS5 merge runs)


def reindex_part(index: MemoryIndex, part: PartFile) -> int:
    """Re-read one part into the index (old lines and postings out); returns its part id."""
    with open(part.path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    read = part_from_bytes(part, data, stat.st_size, stat.st_mtime_ns)
    with index.transaction() as conn:
        index.write_parts(conn, [read])
        row = conn.execute("SELECT id FROM parts WHERE path=?", (part.rel,)).fetchone()
        # a finished append's digest is never read again, and it hashed the forgotten text
        conn.execute("UPDATE turns SET digest='' WHERE path=? AND done=1", (part.rel,))
        # FTS5 keeps a deleted row's postings in older segments until they merge: merge now
        # (SQLite < 3.42 has no in-place secure-delete). The merge reads and rewrites the
        # part's trigram table, 1/16 of the index (rows.py FTS_SHARDS): one 15 MB table at
        # 300k lines took ~0.6-1 s here (bench_forget)
        conn.execute(f"PRAGMA cache_size={MERGE_CACHE_KIB}")
        try:
            table = fts_table(int(row[0]))
            conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        finally:
            conn.execute("PRAGMA cache_size=-2000")
    return int(row[0])


def scrub_recall(memory_dir: Path, part_id: int, numbers: list[int]) -> int:
    """Drop the lines' terms and vectors, and their neighbours' (database and graph file);
    returns vectors dropped."""
    if not (Path(memory_dir) / RECALL_DB).exists():
        return 0  # the job has not run: nothing derived yet
    store = RecallStore(memory_dir)
    try:
        lines = [rowid_of(part_id, n) for n in numbers]
        rowids = with_neighbours(store, part_id, lines, max(CONTEXT))
        termed = with_neighbours(store, part_id, lines, max(TERMS_CONTEXT))
        marks = ",".join("?" * len(rowids))
        with graph_lock(memory_dir):
            # a save killed mid-write left its temporary graph (savers hold this lock)
            (Path(memory_dir) / f"{HNSW_FILE}.tmp").unlink(missing_ok=True)
            vectors = store.query(f"SELECT vec FROM vectors WHERE rowid IN ({marks})", rowids)
            zero_vectors(Path(memory_dir) / HNSW_FILE, rowids, [bytes(v) for (v,) in vectors])
            with store.transaction() as conn:
                _scrub_rows(conn, rowids, marks)
                _scrub_terms(conn, termed)
        checkpoint(store.db())
        return len(vectors)
    finally:
        store.close()


def with_neighbours(store: RecallStore, part_id: int, rowids: list[int], span: int) -> list[int]:
    """The lines and the lines whose passage or terms may hold them: the `span` nearest lines
    of the part on each side that have a vector or terms."""
    if not span:
        return sorted(rowids)
    lo, hi = rowid_of(part_id, 0), rowid_of(part_id, (1 << LINE_BITS) - 1)
    have = sorted(r for (r,) in store.query(
        "SELECT rowid FROM vectors WHERE rowid BETWEEN ? AND ? UNION "
        "SELECT rowid FROM morphs WHERE rowid BETWEEN ? AND ? AND terms != ''",
        (lo, hi, lo, hi)))
    out = set(rowids)
    for rowid in rowids:
        at = bisect.bisect_left(have, rowid)
        after = at + 1 if at < len(have) and have[at] == rowid else at
        out.update(have[max(0, at - span) : at] + have[after : after + span])
    return sorted(out)


def _scrub_rows(conn: sqlite3.Connection, rowids: list[int], marks: str) -> None:
    conn.execute(f"DELETE FROM vectors WHERE rowid IN ({marks})", rowids)
    _scrub_terms(conn, rowids)
    queue_graph_removals(conn, rowids)
    count = conn.execute("SELECT value FROM meta WHERE key=?", (FORGETS,)).fetchone()
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                 (FORGETS, str(int(count[0]) + 1 if count else 1)))


def _scrub_terms(conn: sqlite3.Connection, rowids: list[int]) -> None:
    """Mark the lines' terms gone (an empty text: readers catch up by seq)."""
    marks = ",".join("?" * len(rowids))
    termed = [r for (r,) in conn.execute(
        f"SELECT rowid FROM morphs WHERE rowid IN ({marks}) AND terms != ''", rowids)]
    top = int(conn.execute("SELECT coalesce(max(seq), 0) FROM morphs").fetchone()[0])
    conn.executemany(
        "INSERT OR REPLACE INTO morphs(rowid, seq, terms) VALUES (?, ?, '')",
        [(r, top + i) for i, r in enumerate(termed, start=1)],
    )


def checkpoint(conn: sqlite3.Connection) -> None:
    """Move the write-ahead log into the database and truncate it (old page images go)."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("a reader kept the write-ahead log from being truncated; it is on the next")
