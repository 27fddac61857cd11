"""Background threads: the server poller and the file follower; results go to a queue (no Tk)."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from dashboard.follow import JsonlFollower, TailReader, read_json
from dashboard.logs import classify
from dashboard.prom import Window, parse_scrape
from dashboard.server_state import ServerView, build_view, unauthorized, unreachable

Message = tuple[str, Any]


def auth_headers(token: str | None) -> dict[str, str]:
    """The bearer header, or none."""
    return {"Authorization": f"Bearer {token}"} if token else {}


class Poller(threading.Thread):
    """A daemon thread that calls `poll()` every `interval` seconds until stopped."""

    def __init__(self, out: queue.Queue[Message], interval: float) -> None:
        super().__init__(daemon=True, name=type(self).__name__)
        self.out = out
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        """Poll until `stop()`, then release what the thread holds (on this thread)."""
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                self.poll()
                self.stopping.wait(max(0.05, self.interval - (time.monotonic() - started)))
        finally:
            self.release()

    def release(self) -> None:
        """What the thread closes when it ends (overridden)."""

    def poll(self) -> None:
        """One round of work (overridden)."""

    def stop(self) -> None:
        """Ask the thread to finish after its current round."""
        self.stopping.set()


class ServerPoller(Poller):
    """Polls `/ready`, `/metrics` and (for the token) `/v1/models`; posts ("server", ServerView)."""

    def __init__(
        self, url: str, token: str | None, out: queue.Queue[Message], interval: float = 1.5
    ) -> None:
        super().__init__(out, interval)
        self.url = url.rstrip("/")
        self.window = Window(60.0)
        self.client = httpx.Client(base_url=self.url, headers=auth_headers(token), timeout=5.0)
        self._auth_checked_at = 0.0
        self._auth_ok = True

    def poll(self) -> None:
        """Post one view of the server."""
        self.out.put(("server", self.fetch()))

    def fetch(self) -> ServerView:
        """Read the server once and build the view (never raises on network trouble)."""
        try:
            ready = self.client.get("/ready")
            metrics = self.client.get("/metrics")
            if 401 in (ready.status_code, metrics.status_code) or not self._check_auth():
                return unauthorized(self.url)
            now = time.time()
            if metrics.status_code == 200:
                self.window.add(parse_scrape(metrics.text, now))
            doc = ready.json() if ready.status_code in (200, 503) else None
        except httpx.HTTPError as exc:
            self.window.clear()
            return unreachable(self.url, type(exc).__name__)
        except ValueError as exc:  # not JSON, or not Prometheus text: not our server
            return ServerView(self.url, "error", f"{self.url}: {exc}")
        return build_view(self.url, doc, self.window, now)

    def _check_auth(self) -> bool:
        """`/v1/models` needs the access token when the server sets one; checked every 10 s."""
        if time.monotonic() - self._auth_checked_at > 10:
            self._auth_checked_at = time.monotonic()
            self._auth_ok = self.client.get("/v1/models").status_code != 401
        return self._auth_ok

    def release(self) -> None:
        """Close the connection pool, from the polling thread itself: a request still in
        flight when `stop()` gives up waiting must never meet a closed client."""
        self.client.close()

    def stop(self) -> None:
        """Stop polling; the thread closes its connection pool as it ends."""
        super().stop()
        if self.ident is None:  # never started: nobody else will close it
            self.client.close()
        else:
            self.join(timeout=10)


class FilePoller(Poller):
    """Follows the run folder and the log file; posts ("run", …), ("summary", …), ("log", …)."""

    def __init__(self, run_dir: Path, log_file: Path | None, out: queue.Queue[Message]) -> None:
        super().__init__(out, 1.0)
        self.run_dir = run_dir
        self.metrics = JsonlFollower(run_dir / "metrics.jsonl")
        self.log = TailReader(log_file, start_at_end=True) if log_file else None
        self._generation = 0
        self._malformed = 0
        self._summary_mtime: float | None = None
        self._log_level = "INFO"

    def poll(self) -> None:
        """Post what grew since the last round."""
        records = self.metrics.read()
        reset = self.metrics.reader.generation != self._generation
        self._generation = self.metrics.reader.generation
        if records or reset or self.metrics.malformed != self._malformed:
            self._malformed = self.metrics.malformed
            update = {"records": records, "reset": reset, "malformed": self._malformed}
            self.out.put(("run", update))
        self._poll_summary()
        if self.log is not None:
            lines = classify("server", self.log.read_lines(), self._log_level)
            if lines:
                self._log_level = lines[-1].level
                self.out.put(("log", lines))

    def _poll_summary(self) -> None:
        path = self.run_dir / "train.json"
        if not path.exists():  # a tuning run's folder
            path = self.run_dir / "tune.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return
        if mtime != self._summary_mtime:
            doc = read_json(path)
            if doc is not None:
                self._summary_mtime = mtime
                self.out.put(("summary", doc))
