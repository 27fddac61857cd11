"""runpod_launcher.sh installs a CUDA PyTorch only when asked (--with-torch, ECHO_INSTALL_TORCH)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "runpod_launcher.sh"
TORCH_INSTALL = re.compile(r"^\[dry-run\] \S+/uv pip install --python \S+ torch==([\d.]+)$", re.M)


def dry_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    base |= {"ECHO_VENV": str(tmp_path / "venv"), "ECHO_LOG_DIR": str(tmp_path / "logs"),
             "ECHO_MODELS_DIR": str(tmp_path / "models")}
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", *args], env=base | env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_no_torch_unless_asked(tmp_path: Path) -> None:
    done = dry_run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3b. PyTorch with CUDA" in done.stdout and "not asked" in done.stdout
    assert "torch==" not in done.stdout and "--only-group train" not in done.stdout


def test_with_torch_installs_the_pinned_cuda_torch_and_the_train_group(tmp_path: Path) -> None:
    for done in (dry_run(tmp_path, "--with-torch"), dry_run(tmp_path, ECHO_INSTALL_TORCH="cuda")):
        assert done.returncode == 0, done.stderr
        out = done.stdout
        found = TORCH_INSTALL.search(out)
        assert found, out
        pinned = re.search(r"^TORCH_VERSION=(\S+)$", (REPO / "scripts/setup.sh").read_text(), re.M)
        assert pinned and found.group(1) == pinned.group(1)  # one pin for laptop and pod
        assert "--index-url" not in found.group(0)  # PyPI's Linux torch is the CUDA build
        export = out.index("uv export --frozen --only-group train")
        assert export < out.index("-r " + str(tmp_path / "venv" / "requirements.train.txt"))
        assert out.index("3. llama-cpp-python") < found.start() < out.index("4. models")
        assert not (tmp_path / "venv").exists()  # a dry run changes nothing


def test_a_bad_torch_request_stops_before_any_step(tmp_path: Path) -> None:
    done = dry_run(tmp_path, ECHO_INSTALL_TORCH="rocm")
    assert done.returncode == 2 and "ECHO_INSTALL_TORCH" in done.stderr
    assert "==> 1." not in done.stdout


def test_help_names_the_torch_switches(tmp_path: Path) -> None:
    helped = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True,
                            timeout=30)
    assert "--with-torch" in helped.stdout and "ECHO_INSTALL_TORCH" in helped.stdout
