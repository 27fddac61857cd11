"""Fixtures for the training kit's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import models_dir
from tests.trainkit.losses import DEMO_FILE


@pytest.fixture(scope="session")
def demo_model() -> Path:
    """The demo GGUF setup fetched (its tokenizer makes the tiny tuning model's)."""
    path = models_dir() / DEMO_FILE
    assert path.is_file(), "run `make setup-dev` first: the demo model is missing"
    return path
