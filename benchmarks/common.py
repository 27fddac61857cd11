"""Shared benchmark helpers: the machine, a real server process, BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "BENCHMARKS.md"
DEMO_MODEL = (
    Path(os.environ.get("ECHO_MODELS_DIR", REPO / "models")) / "SmolLM2-135M-Instruct.Q4_1.gguf"
)


def machine() -> str:
    """Cores, CPU model, memory and Python, for the results table."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except OSError:
        mem = "?"
    return f"{os.cpu_count()} cores, {cpu}, {mem} RAM, Python {platform.python_version()}"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(workdir: Path, **env: str) -> Iterator[str]:
    """A real `echo-brain serve` on loopback, ready; yields its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "manifest").mkdir(exist_ok=True)
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    full_env.update(
        {
            "ECHO_MEMORY_DIR": str(workdir / "memory"),
            "ECHO_MEMORY_BACKUP_DIR": str(workdir / "memory_backup"),
            "ECHO_ORIGIN_DIR": str(workdir / "origin"),
            "ECHO_MANIFEST_DIR": str(workdir / "manifest"),
            "ECHO_MODELS_DIR": str(DEMO_MODEL.parent),
            "PYTHONPATH": str(REPO),
            **env,
        }
    )
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=workdir,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text())
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def write_section(title: str, body: str) -> None:
    """Replace (or add) the `## title` section of BENCHMARKS.md."""
    text = (
        RESULTS.read_text(encoding="utf-8")
        if RESULTS.exists()
        else (
            "# Benchmarks / 벤치마크\n\nMeasured figures, the machine and the command for each. "
            "/ 측정값과 기계, 명령.\n"
        )
    )
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
