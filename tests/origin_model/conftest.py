"""One real training run shared by the tests: `echo-brain train` in a subprocess, a few steps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.origin_model.archive import make_archive

REPO = Path(__file__).resolve().parents[2]
STEPS = 30
BATCH = 8
SMALL = ["--batch-size", str(BATCH), "--threads", "1"]  # short runs on a shared 2-core machine


@dataclass(frozen=True)
class TrainedRun:
    """A finished run: its archive, models folder, run folder and what the command printed."""

    memory: Path
    models: Path
    stdout: str

    @property
    def out(self) -> Path:
        """The run folder (ECHO_MODELS_DIR/origin)."""
        return self.models / "origin"

    def summary(self) -> dict[str, object]:
        """train.json."""
        return json.loads((self.out / "train.json").read_text(encoding="utf-8"))

    def copy_to(self, target: Path) -> Path:
        """A copy of the run folder (data cache included), for tests that train on."""
        shutil.copytree(self.out, target)
        return target


def train_env(models: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a `python -m cli train` subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # let torch's bytecode be cached after one run
    env.update({"ECHO_MODELS_DIR": str(models), "PYTHONPATH": str(REPO), "COLUMNS": "200"})
    # torch.compile costs a minute per process here: only the session's run uses the default
    # step plan (compiled where a compiler is); the other runs test other things, eagerly
    env["ECHO_TRAIN_COMPILE"] = "0"
    env.update(extra)
    for name, value in extra.items():
        if value == "":  # an empty value means: leave it unset (the machine's default)
            env.pop(name, None)
    return env


def train_cmd(*args: str | Path) -> list[str]:
    """The train command line."""
    return [sys.executable, "-m", "cli", "train", *map(str, args)]


def run_train(models: Path, *args: str | Path, timeout: float = 600,
              **env: str) -> subprocess.CompletedProcess[str]:
    """Run `echo-brain train` to the end."""
    return subprocess.run(train_cmd(*args), cwd=models.parent, env=train_env(models, **env),
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """`echo-brain train --steps 12` on a small real archive, run once for the session."""
    root = tmp_path_factory.mktemp("trained")
    memory = make_archive(root / "memory")
    models = root / "models"
    models.mkdir()
    done = run_train(models, "--memory-dir", memory, "--steps", str(STEPS), *SMALL,
                     ECHO_TRAIN_COMPILE="")  # the default step plan of this machine
    assert done.returncode == 0, done.stderr
    return TrainedRun(memory, models, done.stdout)
