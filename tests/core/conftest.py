"""Fixtures for the memory tests: settings, archive builders, subprocess helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.settings import Settings, load_settings


@pytest.fixture
def settings() -> Settings:
    """Settings from the isolated environment (memory and backup under tmp_path)."""
    return load_settings()


@pytest.fixture
def write_part(settings: Settings) -> Callable[..., Path]:
    """Write a part file under the memory root from text or bytes."""

    def write(rel: str, content: str | bytes) -> Path:
        path = settings.memory_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write
