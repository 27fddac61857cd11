"""Distinct recall results: identical or near-identical text counts once.

"Near" is measured on a normalized form of the text (NFKC, case-folded, every run of
non-word characters one space): two lines are the same when those forms are equal, or when
their character trigrams, counted with their repeats, overlap by at least NEAR_JACCARD
(weighted Jaccard: the sum of the smaller counts over the sum of the larger), so "%s, %s
wrote it" and "%s, %s, %s wrote it" differ by a name, where plain sets of trigrams found them
equal. A question asked six times, or a greeting said every day, then takes one slot, not
six.

Which copy takes the slot: among the candidates whose normalized texts are equal, the one
whose turn answers the prompt best (its own fused score plus its turn neighbours'; ties go
to the better-ranked copy), so the line comes back with the date and the exchange that
fit the question, not with whichever copy a path happened to rank first
(`choose_copies`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable

NEAR_JACCARD = 0.9
_NON_WORD = re.compile(r"[\W_]+")


def normalized(text: str) -> str:
    """The form two texts are compared in."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _trigrams(text: str) -> Counter[str]:
    padded = f"  {text} "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2))


def overlap(a: Counter[str], b: Counter[str]) -> float:
    """Weighted Jaccard of two trigram counts (1.0 for two empty ones)."""
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 1.0


class DistinctTexts:
    """Admits a text only when it is not (nearly) one already admitted."""

    def __init__(self, near: float = NEAR_JACCARD) -> None:
        self.near = near
        self._exact: set[str] = set()
        self._grams: list[Counter[str]] = []

    def admit(self, text: str) -> bool:
        """True (and remember it) when the text is new; False for a (near) repeat."""
        key = normalized(text)
        if key in self._exact:
            return False
        grams = _trigrams(key)
        if any(overlap(grams, seen) >= self.near for seen in self._grams):
            return False
        self._exact.add(key)
        self._grams.append(grams)
        return True


def choose_copies(
    rowids: list[int], texts: dict[int, str], turn_score: Callable[[int], float]
) -> list[int]:
    """The ranking with each group of identical (normalized) texts reduced to one copy, the
    one with the highest `turn_score` (ties: the earlier), placed where the group's first
    copy stood. Rowids without a text keep their place."""
    keys = {rowid: normalized(text) for rowid in rowids if (text := texts.get(rowid)) is not None}
    groups: dict[str, list[int]] = {}
    for rowid, key in keys.items():
        groups.setdefault(key, []).append(rowid)
    out: list[int] = []
    for rowid in rowids:
        if rowid not in keys:
            out.append(rowid)
            continue
        copies = groups[keys[rowid]]
        if copies[0] != rowid:
            continue  # the group was placed at its first copy
        best = 0 if len(copies) == 1 else max(
            range(len(copies)), key=lambda i: (turn_score(copies[i]), -i))
        out.append(copies[best])
    return out
