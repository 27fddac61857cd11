"""Benchmark the boot replay against a naive reference, in the same run.

    .venv/bin/python -m benchmarks.bench_replay [--root /tmp/echo_bench/memory] [--repeat 3]

- naive reference: single-threaded read + NFC clean + one FTS5 trigram insert of every
  line into a fresh database (timed in this process);
- `echo-brain replay` cold (fresh index) and warm (second run, unchanged archive), each
  the whole process (`.venv/bin/echo-brain replay ...`), start-up included.
Writes the "## Memory replay" section of BENCHMARKS.md (other sections are kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from gen_archive import generate  # noqa: E402

SECTION = "## Memory replay"


def naive_reference(root: Path, db_path: Path) -> int:
    """Read every part, NFC-clean each line, insert each into a fresh trigram FTS5 table."""
    db_path.unlink(missing_ok=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE VIRTUAL TABLE lines USING fts5(text, tokenize='trigram')")
    count = 0
    for path in sorted(root.rglob("part*.txt")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for line in data.decode("utf-8", "replace").splitlines():
            line = unicodedata.normalize("NFC", line).strip()
            if line:
                conn.execute("INSERT INTO lines(text) VALUES (?)", (line,))
                count += 1
    conn.commit()
    conn.close()
    return count


def drop_index(root: Path) -> None:
    """Remove the replay's index so the next run is cold."""
    for path in root.glob(".echo_index.sqlite3*"):
        path.unlink()


def run_replay(command: list[str], env: dict[str, str]) -> float:
    """Seconds for one whole replay process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=REPO)
    return time.perf_counter() - start


def cpu_model() -> str:
    """The CPU model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_section(text: str) -> None:
    """Replace (or append) the Memory replay section of BENCHMARKS.md."""
    path = REPO / "BENCHMARKS.md"
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text, doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    """Generate the archive, time the three runs, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/echo_bench/memory"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    root = args.root.resolve()
    raw_lines = generate(root)
    script = Path(sys.executable).with_name("echo-brain")  # the console script a user runs
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "cli"]
    command = [*launcher, "replay", "--memory-dir", str(root),
               "--manifest-dir", str(REPO / "manifest"), "--json"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    naive, cold, warm = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            start = time.perf_counter()
            naive_lines = naive_reference(root, Path(tmp) / "naive.sqlite3")
            naive.append(time.perf_counter() - start)
            drop_index(root)
            cold.append(run_replay(command, env))
            warm.append(run_replay(command, env))
    n, c, w = (statistics.median(x) for x in (naive, cold, warm))
    shown = " ".join(command).replace(str(REPO) + "/", "").replace(str(root), "<archive>")
    text = (
        f"{SECTION}\n\n"
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}.\n"
        f"Archive: `python benchmarks/gen_archive.py` ({raw_lines} raw lines, ~760 parts, "
        f"dirty). Naive reference absorbs {naive_lines} lines.\n"
        f"Command: `.venv/bin/python -m benchmarks.bench_replay` (median of {args.repeat}); "
        f"replay = `{shown}`, whole process.\n\n"
        "| run | seconds | ratio to naive | target |\n|---|---|---|---|\n"
        f"| naive reference (read + NFC + FTS5 trigram insert) | {n:.2f} | 1.00 | |\n"
        f"| replay, cold (fresh index) | {c:.2f} | {c / n:.2f} | ≤ 0.75 |\n"
        f"| replay, warm (unchanged archive) | {w:.2f} | {w / n:.2f} | ≤ 0.15 |\n"
    )
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
