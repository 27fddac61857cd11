"""Cold index build on two cores: a forked builder fills the FTS table while we store lines.

The trigram FTS insert is the cost of a first replay. A forked child process builds the
same contentless FTS5 table in a temporary database outside the memory root from the
(rowid, text) rows this process sends it; this process meanwhile reads, cleans and
stores the parts. At the end the child's FTS shadow tables are copied verbatim into the
index inside the same transaction, so the index is never half built.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import sqlite3
import struct
import tempfile
from collections.abc import Callable, Iterable

from core.memory.archive import Skipped
from core.memory.index import MemoryIndex
from core.memory.read import PartRead
from core.memory.rows import FTS_KIND, FTS_SHARDS, FTS_TABLES, LINE_BITS

log = logging.getLogger(__name__)
HASHSIZE = 64 * 1024 * 1024 // FTS_SHARDS  # each trigram table's pending-terms budget
SHARD_BATCH = 4096  # rows a trigram table takes in one insert during the cold build
SHADOW_TABLES = tuple(f"{t}_{kind}" for t in FTS_TABLES for kind in ("data", "idx"))
_FRAME = struct.Struct("<I")


class FtsBuilder:
    """A forked child that builds the trigram tables in a temporary database."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="echo-fts-", suffix=".sqlite3")
        os.close(fd)
        read_fd, self._write_fd = os.pipe()
        self._pending: list[tuple[int, str]] = []
        self.pid = os.fork()
        if self.pid == 0:  # the child: build, then leave without running the parent's cleanup
            os.close(self._write_fd)
            code = 1
            try:
                _build(self.path, read_fd)
                code = 0
            except BaseException:
                log.exception("FTS builder failed")
            finally:
                os._exit(code)
        os.close(read_fd)

    def add(self, rows: Iterable[tuple[int, str]]) -> None:
        """Queue rows for the child; they are sent in frames of a few thousand."""
        self._pending.extend(rows)
        if len(self._pending) >= 4096:
            self._send(self._pending)
            self._pending = []

    def _send(self, rows: list[tuple[int, str]]) -> None:
        data = marshal.dumps(rows)
        view = memoryview(_FRAME.pack(len(data)) + data)
        while view:
            view = view[os.write(self._write_fd, view) :]

    def finish(self) -> None:
        """Send the last rows and wait for the child to commit; raises if it failed."""
        if self._pending:
            self._send(self._pending)
            self._pending = []
        self._close_pipe()
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("the FTS builder process failed / 색인 작성 프로세스가 실패했습니다")

    def _close_pipe(self) -> None:
        if self._write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._write_fd)
            self._write_fd = -1

    def close(self) -> None:
        """Stop the child if it still runs and remove the temporary database."""
        self._close_pipe()
        if self.pid:
            with contextlib.suppress(OSError):
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            self.pid = 0
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(self.path + suffix)


def _build(path: str, read_fd: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-131072")
    for table in FTS_TABLES:
        conn.execute(f"CREATE VIRTUAL TABLE {table} USING {FTS_KIND}")
        conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('hashsize', ?)", (HASHSIZE,))
    conn.execute("BEGIN")
    # a part's lines go to its table (rows.fts_table), in batches of SHARD_BATCH rows a table:
    # one small insert per table per frame made the build ~25% slower than one table
    held: list[list[tuple[int, str]]] = [[] for _ in FTS_TABLES]

    def flush(shard: int) -> None:
        table = FTS_TABLES[shard]
        conn.executemany(f"INSERT INTO {table}(rowid, text) VALUES (?,?)", held[shard])
        held[shard].clear()

    with os.fdopen(read_fd, "rb", buffering=1 << 20) as pipe:
        while header := pipe.read(_FRAME.size):
            (size,) = _FRAME.unpack(header)
            for row in marshal.loads(pipe.read(size)):
                shard = (row[0] >> LINE_BITS) % FTS_SHARDS
                held[shard].append(row)
                if len(held[shard]) >= SHARD_BATCH:
                    flush(shard)
    for shard in range(FTS_SHARDS):
        flush(shard)
    conn.execute("COMMIT")
    conn.close()


def copy_fts(conn: sqlite3.Connection, path: str) -> None:
    """Take the builder's FTS shadow tables into the index (inside an open transaction)."""
    source = sqlite3.connect(path)
    try:
        for table in SHADOW_TABLES:
            rows = source.execute(f"SELECT * FROM {table}")
            marks = ",".join("?" * len(rows.description))
            conn.execute(f"DELETE FROM {table}")
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    finally:
        source.close()


def rebuild_index(
    index: MemoryIndex,
    items: Iterable[PartRead | Skipped],
    on_item: Callable[[PartRead | Skipped, int], None],
) -> None:
    """Build the index from scratch in one transaction, the FTS part in a forked builder."""
    builder = FtsBuilder()
    try:
        with index.transaction(bulk=True) as conn:
            conn.execute("DELETE FROM parts")
            for item in items:
                written = 0
                if isinstance(item, PartRead):
                    written = index.write_parts(conn, [item], fts_sink=builder.add)
                on_item(item, written)
            builder.finish()
            copy_fts(conn, builder.path)
    finally:
        builder.close()
