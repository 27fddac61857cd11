"""Shared benchmark helpers: the machine, a real server process, BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


def load_note(start: float) -> str:
    """The load average measured at a run's start and now, and what it means for timings."""
    end = os.getloadavg()[0]
    busy = start > (os.cpu_count() or 1)
    return (f"load average {start:.1f} at the start and {end:.1f} at the end on "
            f"{os.cpu_count()} cores (the end figure counts the benchmark's own processes)"
            + (": other work was running, timings are indicative" if busy else ""))


@contextmanager
def server(workdir: Path, **env: str) -> Iterator[str]:
    """A real `echo-brain serve` on loopback (the test suite's harness), ready; yields its URL.

    Its manifest folder is empty, so the circuits get exactly the prompts a benchmark builds.
    """
    from benchmarks.harness import run_server

    (workdir / "manifest").mkdir(parents=True, exist_ok=True)
    manifest = {
        "ECHO_MANIFEST_DIR": str(workdir / "manifest"),
        "ECHO_MODELS_DIR": str(DEMO_MODEL.parent),
    }
    with run_server(workdir, **manifest, **env) as running:
        running.wait_ready()
        yield running.url


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
