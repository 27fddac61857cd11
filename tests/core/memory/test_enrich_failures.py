"""One part that always fails is skipped, reported and retried later; the others go on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.memory.recall import enrich
from core.memory.recall.enrich import Enricher
from core.memory.recall.store import DIM, PROGRESS
from core.memory.replay import replay_archive

REPO = Path(__file__).resolve().parents[3]


class Terms:
    """A stand-in analyzer that breaks on one word, as a bad part would break Kiwi."""

    broken = True

    def terms_many(self, texts: list[str]) -> list[list[str]]:
        if self.broken and any("POISON" in t for t in texts):
            raise RuntimeError("the analyzer choked")
        return [t.split() for t in texts]


class Vectors:
    """A stand-in embedder: a fixed unit vector per text."""

    def passages(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, hash(text) % DIM] = 1.0
        return out


def test_a_failing_part_is_skipped_reported_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = tmp_path / "memory"
    for day, text in (("day0101", "good morning"), ("day0102", "POISON here"),
                      ("day0103", "good night")):
        (memory / day).mkdir(parents=True)
        (memory / day / "part1.txt").write_text(f"나의 말:\n{text}\n둘째 줄\n", encoding="utf-8")
    replay_archive(memory, REPO / "manifest")
    terms = Terms()
    enricher = Enricher(memory, analyzer=terms, embedder=Vectors())  # type: ignore[arg-type]
    try:
        for _ in range(20):  # without the guard the first step raises, and every step after
            if not enricher.step():
                break
        progress = enricher.store.get_meta(PROGRESS)
        assert progress["done"] == progress["morph_done"] == 4  # the two good parts
        assert progress["total"] == 6
        assert [s["path"] for s in progress["skipped"]] == ["day0102/part1.txt"]
        assert "the analyzer choked" in progress["skipped"][0]["reason"]
        insight = json.loads((memory / "insight.json").read_text(encoding="utf-8"))
        assert insight["recall_skipped"] == progress["skipped"]

        terms.broken = False  # later, the part is tried again and goes through
        monkeypatch.setattr(enrich, "RETRY_FAILED_S", 0.0)
        for _ in range(20):
            if not enricher.step():
                break
        progress = enricher.store.get_meta(PROGRESS)
        assert progress["done"] == progress["morph_done"] == 6 and progress["skipped"] == []
        insight = json.loads((memory / "insight.json").read_text(encoding="utf-8"))
        assert insight["recall_skipped"] == []
    finally:
        enricher.close()
