"""No open door: `echo-brain serve` on a public address with no guest gate refuses to start,
unless ECHO_ALLOW_ANONYMOUS=true; `make run` listens on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.remote_stub import local_address
from tests.e2e_server import REPO, free_port, server_env

ECHO = {f"ECHO_{c}_MODEL": "echo" for c in ("EMOTION", "CREATION", "SELF")}
NAMES = ("ECHO_GUEST_TOKENS", "ECHO_ACCESS_TOKEN", "ECHO_ALLOW_ANONYMOUS")


def serve(cwd: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cli", "serve", *args], cwd=cwd,
                            env=server_env(cwd, **ECHO, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def refused(proc: subprocess.Popen[str]) -> str:
    """Wait for the refusal; what the command printed."""
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert all(name in out for name in NAMES), out
    assert "거부" in out and "ECHO_ALLOW_ANONYMOUS=true" in out
    return out


def served(proc: subprocess.Popen[str], url: str) -> str:
    """Wait until the app itself answers (not only the early liveness), stop it; its output."""
    deadline = time.monotonic() + 120
    try:
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the app did not come up"
            try:
                if not httpx.get(url + "/ready", timeout=2).json().get("booting"):
                    break
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    return out


@pytest.mark.parametrize("tokens", [{}, {"ECHO_ORIGIN_TOKEN": "only-the-origin-token"}])
def test_a_public_bind_without_a_guest_gate_refuses_to_start(tmp_path: Path,
                                                             tokens: dict[str, str]) -> None:
    out = refused(serve(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()), **tokens))
    assert "0.0.0.0" in out


def test_host_from_the_environment_and_several_workers_are_refused_too(tmp_path: Path) -> None:
    refused(serve(tmp_path, HOST="0.0.0.0", PORT=str(free_port())))
    refused(serve(tmp_path, "--host", "::", "--port", str(free_port()), "--workers", "2"))


def test_a_gate_or_an_explicit_open_door_lets_it_start(tmp_path: Path) -> None:
    port = free_port()
    gated = served(serve(tmp_path, "--host", "0.0.0.0", "--port", str(port),
                         ECHO_ACCESS_TOKEN="a-guest-token-123"), f"http://127.0.0.1:{port}")
    assert "no token gate" not in gated
    address = local_address() or "0.0.0.0"  # one interface only, when the machine has one
    port = free_port()
    opened = served(serve(tmp_path, "--host", address, "--port", str(port),
                          ECHO_ALLOW_ANONYMOUS="true"), f"http://{address}:{port}")
    assert "no token gate (ECHO_ALLOW_ANONYMOUS=true)" in opened


def test_loopback_needs_no_gate(tmp_path: Path) -> None:
    port = free_port()
    served(serve(tmp_path, "--host", "127.0.0.1", "--port", str(port)), f"http://127.0.0.1:{port}")


def test_make_run_listens_on_loopback_unless_host_says_otherwise() -> None:
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M)
    assert recipe is not None
    serve_line = next(line for line in recipe.group(1).splitlines() if "echo-brain serve" in line)
    assert '--host "$${HOST:-127.0.0.1}"' in serve_line
    shell = serve_line.strip().replace("$$", "$").replace(".venv/bin/echo-brain", "echo")
    for env, host in (({}, "127.0.0.1"), ({"HOST": "10.1.2.3"}, "10.1.2.3")):
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", **env}, check=True)
        assert done.stdout.split() == ["serve", "--host", host]
