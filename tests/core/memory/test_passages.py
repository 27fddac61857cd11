"""Contextual passages: a line is indexed with its neighbours' terms and returned alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.memory.index import MemoryIndex
from core.memory.recall import fusion
from core.memory.recall.enrich import Enricher, enrich_all
from core.memory.recall.fusion import Recaller
from core.memory.recall.store import DIM
from core.memory.recall.terms import CONTEXT, NEIGHBOUR_CHARS, contextual_terms, passages
from core.memory.replay import replay_archive

REPO = Path(__file__).resolve().parents[3]
QUESTION = "Did you ever visit the aquarium in Busan?"
REPLY = "Yes, last Tuesday, with my sister."
ARCHIVE = f"""나의 말:
I started reading a long novel about sailors
에코의 말:
That sounds like a good book for the winter.
나의 말:
{QUESTION}
에코의 말:
{REPLY}
나의 말:
My laptop keeps crashing when I compile Rust
"""
K = 5
OTHER_PART = """나의 말:
The aquarium shark tunnel was closed for cleaning
"""


def test_a_passage_is_the_line_between_its_neighbours() -> None:
    speakers = ["origin", "echo", "caroline"]
    texts = ["first", "second", "third"]
    assert passages(speakers, texts, (1, 1)) == [
        "first\nsecond", "first\nsecond\ncaroline: third", "second\ncaroline: third"]
    assert passages(speakers, texts, (1, 0)) == [
        "first", "first\nsecond", "second\ncaroline: third"]
    assert passages(speakers, texts, (0, 0)) == ["first", "second", "caroline: third"]
    long = "x" * (NEIGHBOUR_CHARS + 50) + "END"
    cut = passages([None, None, None], [long, "mid", "START" + long], (1, 1))[1]
    assert cut == long[-NEIGHBOUR_CHARS:] + "\nmid\n" + ("START" + long)[:NEIGHBOUR_CHARS]


def test_a_lines_terms_hold_its_neighbours_and_its_own_first() -> None:
    terms = [["a"], ["b", "c"], ["d"], ["e"]]
    assert contextual_terms(terms, (1, 1), 2) == [
        ["a", "a", "b", "c"], ["a", "b", "c", "b", "c", "d"], ["b", "c", "d", "d", "e"],
        ["d", "e", "e"]]
    assert contextual_terms(terms, (0, 0), 3) == terms


class Recording:
    """A stand-in analyzer and embedder that keep what they were given."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def terms_many(self, texts: list[str]) -> list[list[str]]:
        return [re.sub(r"[^\w\s]", "", t.casefold()).split() for t in texts]

    def passages(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def _archive(root: Path) -> Path:
    memory = root / "memory"
    (memory / "day0301" / "user").mkdir(parents=True)
    (memory / "day0301" / "user" / "part1.txt").write_text(ARCHIVE, encoding="utf-8")
    (memory / "day0302" / "user").mkdir(parents=True)
    (memory / "day0302" / "user" / "part1.txt").write_text(OTHER_PART, encoding="utf-8")
    replay_archive(memory, REPO / "manifest")
    return memory


def test_the_job_indexes_each_line_with_its_neighbours_terms(tmp_path: Path) -> None:
    memory = _archive(tmp_path)
    stand_in = Recording()
    enricher = Enricher(memory, analyzer=stand_in, embedder=stand_in)  # type: ignore[arg-type]
    try:
        while enricher.step():
            pass
        terms = dict(enricher.store.query("SELECT rowid, terms FROM morphs"))
    finally:
        enricher.close()
    said = [t for t in ARCHIVE.splitlines() if not t.endswith("의 말:")]
    assert set(passages([None] * len(said), said, CONTEXT)) <= set(stand_in.embedded)
    reply_terms = max((t.split() for t in terms.values()), key=lambda t: t.count("tuesday"))
    assert {"aquarium", "busan", "sister", "laptop"} <= set(reply_terms)
    assert reply_terms.count("tuesday") > reply_terms.count("busan")  # its own words weigh more
    assert "shark" not in reply_terms


@pytest.fixture(scope="module")
def recaller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recaller]:
    memory = _archive(tmp_path_factory.mktemp("passages"))
    enrich_all(memory)
    found = Recaller(MemoryIndex(memory))
    yield found
    found.close()
    found.index.close()


def test_a_reply_is_found_by_its_questions_words_and_returned_alone(recaller: Recaller) -> None:
    # the reply says nothing of an aquarium: only the question before it does (with its
    # own terms alone it has none of the query's and is not found at all)
    recaller.exchanges = False  # the line itself, not the exchange around it
    hits = recaller.recall("When did we go to the aquarium in Busan?", K, path="morpheme")
    texts = [h.text for h in hits]
    assert REPLY in texts, texts  # the line alone: no neighbour's text in it
    assert all("\n" not in t and (t == REPLY or "Tuesday" not in t) for t in texts), texts
    assert "The aquarium shark tunnel was closed for cleaning" not in texts  # other part


def test_postings_are_rebuilt_when_every_line_was_analysed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an upgrade (a new ENRICH_VERSION, other context settings) rewrites every line's
    # terms: a running server's postings would hold the old and the new slots side by side
    memory = _archive(tmp_path)
    enrich_all(memory, terms_context=(0, 0))  # as an archive indexed before
    monkeypatch.setattr(fusion, "RENEW_DEAD_SLOTS", 0)
    found = Recaller(MemoryIndex(memory))
    try:
        found.warm()
        lines = found.morphs.lines
        assert found.morphs.slots == lines
        enrich_all(memory)  # the new version's pass: every line's terms written again
        found.recall("aquarium", 3, path="morpheme")  # catches up: old slots dead
        assert found.morphs.slots > found.morphs.lines
        found.recall("aquarium", 3, path="morpheme")  # sees them and renews
        assert found._renewal is not None
        found._renewal.join(30)
        assert found.morphs.slots == found.morphs.lines == lines
        hits = found.recall("When did we go to the aquarium in Busan?", K, path="morpheme")
        assert REPLY in [h.text for h in hits]
    finally:
        found.close()
        found.index.close()
