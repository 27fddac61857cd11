"""A circuit's worker process: one model, served over a socket to the server.

    python -m llm.worker <fd>

The server (`llm.process_backend.ProcessBackend`) passes one end of a socketpair as
`<fd>`. Messages are pickled tuples:

    server → worker: ("load", LlamaConfig), ("generate", wire dict), ("cancel",), ("stop",)
    worker → server: ("ready", info), ("delta", text), ("done", usage), ("error", message)

A native fault here (SIGSEGV in a kernel, out of memory) ends only this process; the
server notices the closed socket and restarts it. The worker exits on its own when the
server goes away, even if it is killed with SIGKILL: the socket reads EOF, and a watchdog
thread sees the parent pid change while the model is still loading.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from llm.backend import Backend, BackendError, Generation

log = logging.getLogger("echo_brain.worker")
WATCH_INTERVAL_S = 0.25


def watch_parent(parent: int) -> None:
    """Exit at once when the process that started us is gone (we were re-parented)."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(WATCH_INTERVAL_S)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(conn: Connection, backend: Backend) -> None:
    """Answer generation requests until told to stop or the server is gone."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        if message[0] == "generate":
            _generate(conn, backend, Generation.from_wire(message[1]))


def _generate(conn: Connection, backend: Backend, gen: Generation) -> None:
    try:
        for chunk in backend.stream(gen):
            conn.send(("delta", chunk))
            if conn.poll() and _cancelled(conn):
                gen.cancel.set()
                break
        conn.send(("done", gen.usage))
    except (BrokenPipeError, ConnectionError):
        raise SystemExit(0) from None
    except Exception as exc:  # reported to the request, the worker goes on
        conn.send(("error", str(exc) or type(exc).__name__))


def _cancelled(conn: Connection) -> bool:
    try:
        message = conn.recv()
    except (EOFError, OSError):
        raise SystemExit(0) from None
    if message[0] == "stop":
        raise SystemExit(0)
    return message[0] == "cancel"


def main(argv: list[str]) -> int:
    """Load the model the server sends, report ready, then serve."""
    # The server passes its pid: a worker whose server died before this line ran was
    # already re-parented, and comparing against os.getppid() would watch the new parent.
    watch_parent(int(argv[2]) if len(argv) > 2 else os.getppid())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s worker: %(message)s")
    conn = Connection(int(argv[1]))
    try:
        kind, config = conn.recv()
    except (EOFError, OSError):
        return 0
    if kind != "load":
        return 2
    from llm.llama_backend import LlamaBackend

    backend = LlamaBackend(config)
    try:
        backend.load()
    except BackendError as exc:
        conn.send(("error", str(exc)))
        return 1
    if backend.adapter and backend.adapter.get("warning"):
        log.warning("%s: %s", backend.adapter["file"], backend.adapter["warning"])
    info: dict[str, Any] = {
        "pid": os.getpid(),
        "warmup_s": backend.warmup_s,
        "adapter": backend.adapter,
        "prefix": backend.prefix,
        "trained_on_memory": backend.trained_on_memory,
    }
    conn.send(("ready", info))
    try:
        serve(conn, backend)
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
