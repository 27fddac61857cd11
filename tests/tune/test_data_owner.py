"""`echo-brain tune` reads only the origin: no guest's words, no forgotten line."""

from __future__ import annotations

from pathlib import Path

from core.settings import load_settings
from tests.origin_model.owner_archive import MARKERS, owner_archive
from tests.tune.test_data import decoded
from tune.chat import ChatTokenizer
from tune.data import prepare


def test_tuning_tokens_hold_no_guest_and_no_forgotten_line(
    demo_model: Path, tmp_path: Path
) -> None:
    settings = load_settings()
    memory = owner_archive(settings.memory_dir, settings)
    chat = ChatTokenizer(demo_model)
    try:
        prepare(memory, tmp_path / "data", settings, chat, "key")
        text = decoded(chat, tmp_path / "data", "train") + decoded(chat, tmp_path / "data", "val")
    finally:
        chat.close()
    assert "keptmarker808" in text and "keptmarker909" in text
    assert not [m for m in MARKERS if m in text]
    for path in (tmp_path / "data").rglob("*"):
        assert not any(m.encode() in path.read_bytes() for m in MARKERS), path
