"""Start a real `echo-brain serve` (uvicorn) on a free port: for benchmarks and end-to-end tests.

The tests reach it as `tests.e2e_server`; it lives here so that benchmarks never import tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    origin: str | None = None  # ECHO_ORIGIN_TOKEN when the server was given one

    def origin_headers(self) -> dict[str, str]:
        """The origin's Authorization header (empty when the server has no origin token)."""
        return {"Authorization": f"Bearer {self.origin}"} if self.origin else {}

    def ready(self) -> httpx.Response:
        """GET /ready, as the origin when there is one (others see states only)."""
        return httpx.get(self.url + "/ready", headers=self.origin_headers(), timeout=5)

    def client(self, **kwargs: object) -> httpx.Client:
        """An httpx client for this server."""
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 120.0), **kwargs)  # type: ignore[arg-type]

    def wait_ready(self, timeout: float = 300.0) -> dict[str, object]:
        """Poll /ready until 200 (circuits warm their prefixes first); return its document."""
        deadline = time.monotonic() + timeout
        doc: dict[str, object] = {}
        while time.monotonic() < deadline:
            response = self.ready()
            doc = response.json()
            if response.status_code == 200:
                return doc
            time.sleep(0.2)
        raise AssertionError(f"server not ready after {timeout} s: {doc}\n{self.log()}")

    def log(self) -> str:
        """What the server wrote so far."""
        return self.log_path.read_text(errors="replace")


def server_env(cwd: Path, **env: str) -> dict[str, str]:
    """A clean environment: every path under `cwd`, the demo model, plus `env`."""
    merged = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    merged.update(
        {
            "ECHO_MEMORY_DIR": str(cwd / "memory"),
            "ECHO_MEMORY_BACKUP_DIR": str(cwd / "memory_backup"),
            "ECHO_ORIGIN_DIR": str(cwd / "origin"),
            "ECHO_MANIFEST_DIR": str(REPO / "manifest"),
            "ECHO_MODELS_DIR": os.environ.get("ECHO_MODELS_DIR", str(REPO / "models")),
        }
    )
    merged.update(env)
    merged["PYTHONPATH"] = str(REPO)
    merged.setdefault("ECHO_N_CTX", "2048")
    merged.setdefault("ECHO_MAX_TOKENS", "48")
    return merged


@contextmanager
def run_server(
    cwd: Path, *, workers: int = 1, start_timeout: float = 30.0, **env: str
) -> Iterator[Server]:
    """Run `python -m cli serve` in `cwd` until the app answers /ready; stop it afterwards."""
    cwd.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = cwd / f"server-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=server_env(cwd, **env), stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", proc, log_path, env.get("ECHO_ORIGIN_TOKEN"))
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{server.log()}")
            try:  # the port answers at once (api.early); wait for the app itself
                if httpx.head(server.url + "/", timeout=1).status_code == 200 and not (
                    httpx.get(server.url + "/ready", timeout=2).json().get("booting")
                ):
                    break
            except (httpx.TransportError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer in {start_timeout} s:\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
