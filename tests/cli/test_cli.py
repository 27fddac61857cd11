"""The echo-brain command: help, ask against a real server, bad configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e_server import REPO, run_server


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def test_help_lists_every_command() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("serve", "ask", "replay", "scan", "plan", "fetch-models", "zip"):
        assert command in result.stdout


def test_bad_setting_stops_serve_naming_the_variable() -> None:
    result = cli("serve", env={"ECHO_MERGE": "average"})
    assert result.returncode == 2
    assert "ECHO_MERGE" in result.stderr and "설정" in result.stderr


def test_ask_talks_to_a_real_server(tmp_path: Path) -> None:
    env = {f"ECHO_{c}_MODEL": "echo" for c in ("EMOTION", "CREATION", "SELF")}
    with run_server(tmp_path, **env) as server:
        server.wait_ready()
        result = cli("ask", "hello sea", "--url", server.url, "--json")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["circuits"]["self"]["text"] == "[self] hello sea"
        refused = cli("ask", "create project: x", "--url", server.url)
        assert refused.returncode == 1 and "403" in refused.stderr
    gone = cli("ask", "hello", "--url", server.url)
    assert gone.returncode == 1 and "cannot reach" in gone.stderr
