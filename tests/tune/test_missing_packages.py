"""`echo-brain tune` without a training package: the bilingual error, exit 2, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.origin_model.test_bad_input import assert_refused
from tests.tune.conftest import tune_cmd, tune_env


@pytest.mark.parametrize("package", ["sentencepiece", "safetensors"])
def test_a_missing_package_is_named_with_the_install_command(tmp_path: Path,
                                                             package: str) -> None:
    shim = tmp_path / "shim" / package  # shadows the installed package: importing it fails
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(f"raise ImportError('No module named {package}')\n")
    models = tmp_path / "models"
    env = tune_env(models)
    env["PYTHONPATH"] = f"{tmp_path / 'shim'}:{env['PYTHONPATH']}"
    done = subprocess.run(tune_cmd("--steps", "1"), cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert_refused(done, package, "bash scripts/setup.sh --train", "설치")
    assert not models.exists()
