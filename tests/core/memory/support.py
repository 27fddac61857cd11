"""Helpers for the memory tests that start real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
WRITER = Path(__file__).with_name("writer.py")


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment for a child process, with the repo importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_writer(*args: str, **env: str) -> subprocess.Popen[str]:
    """Start tests/core/memory/writer.py in a real process."""
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(**env),
    )
