"""`echo-brain dashboard` as a user runs it: no display; a real window typed into (xdotool)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.dashboard.conftest import REPO, START_S
from tests.e2e_server import run_server

ECHO = {"ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo", "ECHO_SELF_MODEL": "echo"}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "dashboard", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_display_it_exits_2_with_a_bilingual_message() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = _cli("--url", "http://127.0.0.1:9", env=env)
    assert result.returncode == 2, result.stderr
    assert "No display" in result.stderr and "디스플레이" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_display_that_does_not_answer_exits_2_too() -> None:
    result = _cli(env=dict(os.environ, DISPLAY=":987"))
    assert result.returncode == 2, result.stderr
    assert "No display" in result.stderr and "Traceback" not in result.stderr


def test_help_names_every_option() -> None:
    result = _cli("--help", env=dict(os.environ, COLUMNS="200"))
    assert result.returncode == 0
    for option in ("--url", "--token", "--run", "--log", "ECHO_TOKEN"):
        assert option in result.stdout


def _xdotool(display: str, *args: str) -> str:
    out = subprocess.run(
        ["xdotool", *args],
        env=dict(os.environ, DISPLAY=display),
        capture_output=True,
        text=True,
        timeout=20,
    )
    return out.stdout.strip()


def test_the_command_opens_a_window_that_asks_and_stops_on_ctrl_c(
    xvfb: str, tmp_path: Path, screenshot: Callable[[str], Path]
) -> None:
    assert shutil.which("xdotool"), "xdotool is missing: run scripts/setup.sh --dev"
    token = "dashboard-origin-token-5e1d"  # anonymous turns are not saved: the origin asks
    with run_server(tmp_path / "srv", start_timeout=START_S, ECHO_ORIGIN_TOKEN=token,
                    **ECHO) as srv:
        srv.wait_ready()
        env = dict(os.environ, DISPLAY=xvfb, PYTHONPATH=str(REPO), ECHO_TOKEN=token)
        cmd = [
            sys.executable,
            "-m",
            "cli",
            "dashboard",
            "--url",
            srv.url,
            "--run",
            str(tmp_path / "run"),
            "--log",
            str(srv.log_path),
        ]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        try:
            window = ""
            deadline = time.monotonic() + 60
            while not window and time.monotonic() < deadline:
                window = _xdotool(xvfb, "search", "--name", "Echo Brain").split("\n")[0]
                time.sleep(0.3)
            assert window, "the dashboard window did not appear"
            time.sleep(2)
            # the real pointer and keyboard: the Ask tab, its prompt box, then typing; clicks
            # go through Tk's event queue in order, so no key lands before the focus moves
            _xdotool(xvfb, "mousemove", "136", "15", "click", "1")
            _xdotool(xvfb, "mousemove", "580", "83", "click", "1")
            _xdotool(xvfb, "type", "--delay", "20", "typed by xdotool")
            _xdotool(xvfb, "key", "ctrl+Return")
            _wait_for_ask(srv.url, token)
            time.sleep(1.0)
            screenshot("cli-ask")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
            assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        memory = "\n".join(p.read_text() for p in (tmp_path / "srv" / "memory").rglob("part*.txt"))
        assert "typed by xdotool" in memory  # the window's prompt reached the server and was saved


def _wait_for_ask(url: str, token: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}).text
        if 'route="/api/ask",status="200"' in text:
            return
        time.sleep(0.3)
    raise AssertionError("the window's prompt never reached POST /api/ask")


def test_default_log_is_the_launchers_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.dashboard import default_log

    monkeypatch.setenv("ECHO_LOG_DIR", str(tmp_path))
    assert default_log() is None
    (tmp_path / "echo-brain.log").write_text("INFO: started\n")
    assert default_log() == tmp_path / "echo-brain.log"
