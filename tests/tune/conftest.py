"""Fixtures for `echo-brain tune`: the demo model, its float32 copy, a tiny random llama GGUF."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.tune_fixture import copy_gguf, to_float32, write_llama_gguf
from tests.conftest import models_dir

REPO = Path(__file__).resolve().parents[2]
DEMO_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def demo_model() -> Path:
    """The demo GGUF setup fetched (SmolLM2-135M, Q4_1)."""
    path = models_dir() / DEMO_FILE
    assert path.is_file(), "run `make setup-dev` first: the demo model is missing"
    return path


@pytest.fixture(scope="session")
def demo_f32(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model with every tensor dequantized to float32 (gguf-py's reference)."""
    return copy_gguf(demo_model, tmp_path_factory.mktemp("f32") / "demo-f32.gguf", to_float32)


@pytest.fixture(scope="session")
def tiny_model(demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random llama GGUF (Q4_0 matrices) with the demo model's tokenizer."""
    path = tmp_path_factory.mktemp("tiny") / "tiny-llama.Q4_0.gguf"
    write_llama_gguf(path, demo_model, dim=64, layers=2, heads=4, kv_heads=2, hidden=128)
    return path


def tune_env(models: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a `python -m cli tune` subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    env.update({"ECHO_MODELS_DIR": str(models), "PYTHONPATH": str(REPO), "COLUMNS": "200"})
    env.update(extra)
    return env


def tune_cmd(*args: str | Path) -> list[str]:
    """The tune command line."""
    return [sys.executable, "-m", "cli", "tune", *map(str, args)]


def run_tune(models: Path, *args: str | Path, timeout: float = 600,
             **env: str) -> subprocess.CompletedProcess[str]:
    """Run `echo-brain tune` to the end."""
    return subprocess.run(tune_cmd(*args), cwd=models.parent, env=tune_env(models, **env),
                          capture_output=True, text=True, timeout=timeout, check=False)
