"""`echo-brain train` reads only the origin: no guest's words, no forgotten line."""

from __future__ import annotations

from pathlib import Path

from core.settings import load_settings
from origin_model.corpus import ArchiveStats, iter_turns
from origin_model.data import prepare
from tests.origin_model.owner_archive import MARKERS, owner_archive
from tests.origin_model.test_data import decoded


def test_training_text_holds_no_guest_and_no_forgotten_line(tmp_path: Path) -> None:
    settings = load_settings()
    memory = owner_archive(settings.memory_dir, settings)
    turns = list(iter_turns(memory, settings, ArchiveStats()))
    said = "\n".join(t.text for t in turns)
    assert "keptmarker808" in said and "keptmarker909" in said  # the origin's lines are in
    assert not [m for m in MARKERS if m in said] and "잊음" not in said
    assert all(not t.part.startswith("guests") for t in turns)
    prepare(memory, tmp_path / "out", settings, keep_tokenizer=False, context=32)
    text = decoded(tmp_path / "out", "train") + decoded(tmp_path / "out", "val")
    assert "keptmarker808" in text and not [m for m in MARKERS if m in text]
    for path in (tmp_path / "out").rglob("*"):  # tokenizer, sentences, token files
        assert not path.is_file() or not any(m.encode() in path.read_bytes() for m in MARKERS)
