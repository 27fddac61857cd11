"""Distinct recall results: identical or near-identical text counts once.

"Near" is measured on a normalized form of the text (NFKC, case-folded, every run of
non-word characters one space): two lines are the same when those forms are equal, or when
their sets of character trigrams overlap by at least NEAR_JACCARD (Jaccard). A question
asked six times, or a greeting said every day, then takes one slot, not six.
"""

from __future__ import annotations

import re
import unicodedata

NEAR_JACCARD = 0.9
_NON_WORD = re.compile(r"[\W_]+")


def normalized(text: str) -> str:
    """The form two texts are compared in."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _trigrams(text: str) -> frozenset[str]:
    padded = f"  {text} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


class DistinctTexts:
    """Admits a text only when it is not (nearly) one already admitted."""

    def __init__(self, near: float = NEAR_JACCARD) -> None:
        self.near = near
        self._exact: set[str] = set()
        self._grams: list[frozenset[str]] = []

    def admit(self, text: str) -> bool:
        """True (and remember it) when the text is new; False for a (near) repeat."""
        key = normalized(text)
        if key in self._exact:
            return False
        grams = _trigrams(key)
        for seen in self._grams:
            union = len(grams | seen)
            if union and len(grams & seen) / union >= self.near:
                return False
        self._exact.add(key)
        self._grams.append(grams)
        return True
