"""Index terms of a line: Korean content morphemes (Kiwi) and stemmed English words.

A line becomes a space-separated stream of terms for the `morphs` table: nouns,
verb and adjective stems, roots, adverbs, numbers, Chinese characters and foreign words,
lowercased; English words are Snowball-stemmed (PyStemmer) and stop words dropped. The
same analysis turns a prompt into query terms, so "영화를 봤어" and "영화 보러 갈래"
share `영화` and `보`.

Kiwi takes ~1 s and ~150 MB to load, holding the GIL all along: `shared_analyzer()` loads
it once per process, never at import time; the server loads it before it listens.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

# Content tags (Sejong tag set as Kiwi writes it; irregular forms carry "-I"/"-R").
CONTENT_TAGS = frozenset({"NNG", "NNP", "NR", "VV", "VA", "XR", "MAG", "SL", "SN", "SH"})
# Stems so common in conversation that they name nothing (to do, to be, to exist, not).
LIGHT_STEMS = frozenset({"하", "되", "있", "없", "않", "같", "이", "그렇", "이렇", "저렇", "어떻"})
ENGLISH_STOP = frozenset(
    """a about above after again against all am an and any are aren as at be because been
    before being below between both but by can could did didn do does doesn doing don down
    during each few for from further had hadn has hasn have haven having he her here hers
    herself him himself his how i if in into is isn it its itself just let ll me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own
    re s same she should so some such t than that the their theirs them themselves then there
    these they this those through to too under until up ve very was wasn we were weren what
    when where which while who whom why will with won would y you your yours yourself
    yourselves""".split()
)
MAX_LINE_CHARS = 2048  # a line longer than this is analysed by its first part only
# Speakers that name a role, not a person: the origin, Echo, the assistants of old chats.
ROLE_SPEAKERS = frozenset({"origin", "echo", "chatgpt", "assistant", "user"})
# A line's passage (what is embedded for it) holds this many lines of the same part
# before and after it, each cut to NEIGHBOUR_CHARS. (1, 1) was measured (BENCHMARKS.md
# "Memory recall", issue 23 item 4): on the Korean sets, whose neighbouring lines are
# unrelated messages, the dense path fell from 0.937 to 0.607 (paraphrase) and from 0.833
# to 0.407 (English -> Korean): the neighbours drown a short line. So a line is embedded
# alone, and its context goes into its BM25 terms only, where its own terms weigh more.
CONTEXT = (0, 0)
NEIGHBOUR_CHARS = 300
# The same for a line's BM25 terms (the `morphs` table): the terms of this many lines
# before and after (each neighbour's NEIGHBOUR_TERMS nearest), the line's own terms
# TERMS_LINE_WEIGHT times, so a line still ranks above the neighbours that carry its words.
TERMS_CONTEXT = (2, 2)
TERMS_LINE_WEIGHT = 3
NEIGHBOUR_TERMS = 40


class TermSource(Protocol):
    """Anything that turns a prompt into index terms (Analyzer, AnalyzerProcess)."""

    def terms(self, text: str) -> list[str]:
        """The index terms of one text."""


class Analyzer:
    """Turns texts into index terms; thread-safe (one lock around Kiwi)."""

    def __init__(self) -> None:
        from kiwipiepy import Kiwi  # heavy: imported only when an analyzer is built
        from Stemmer import Stemmer

        with warnings.catch_warnings():  # 0 = one thread since 0.21, which it warns about
            warnings.simplefilter("ignore", DeprecationWarning)
            # without the multi-word dictionary: 2.5x faster to load, 190 MB less
            self._kiwi: Any = Kiwi(num_workers=0, load_multi_dict=False)
        self._stemmer: Any = Stemmer("english")
        self._lock = threading.Lock()

    def terms(self, text: str) -> list[str]:
        """The index terms of one text, in order (repeats kept: they count for BM25)."""
        return self.terms_many([text])[0]

    def terms_many(self, texts: Sequence[str]) -> list[list[str]]:
        """The index terms of many texts at once (faster than one at a time)."""
        cleaned = [_clean(t) for t in texts]
        with self._lock:
            analysed = [self._kiwi.tokenize(t) for t in cleaned]  # one thread: one at a time
        return [self._content(tokens) for tokens in analysed]

    def _content(self, tokens: Iterable[Any]) -> list[str]:
        kept: list[str] = []
        for token in tokens:
            tag = token.tag.split("-", 1)[0]
            if tag not in CONTENT_TAGS:
                continue
            form = token.form.casefold()
            if tag == "SL":
                if form in ENGLISH_STOP or len(form) < 2 and not form.isdigit():
                    continue
                form = self._stemmer.stemWord(form)
            elif tag in ("VV", "VA") and form in LIGHT_STEMS:
                continue
            kept.append(form)
        return kept


def named_speaker(speaker: str | None) -> str | None:
    """The speaker's name when it names a person (`caroline`), else None (`origin`, `echo`).

    A person's name is part of what a line is about ("what did Caroline research?"), so
    it goes into the line's terms and its passage; a role would only add noise.
    """
    if not speaker or speaker.casefold() in ROLE_SPEAKERS:
        return None
    return speaker


def passage(speaker: str | None, text: str) -> str:
    """A line as it stands in a passage: its text, after the speaker's name when it has one."""
    name = named_speaker(speaker)
    return f"{name}: {text}" if name else text


def passages(
    speakers: Sequence[str | None],
    texts: Sequence[str],
    context: tuple[int, int] = CONTEXT,
) -> list[str]:
    """What is embedded for each line of one part: the line between its neighbours.

    `context` = (lines before, lines after) of the same part, each neighbour cut to
    NEIGHBOUR_CHARS (the end of a line before, the start of a line after), one line of
    the passage per line of the part. "Yes, last Tuesday, with her sister" means something
    only next to the question it answers. (0, 0): the line alone, as before ENRICH_VERSION 4.
    The line alone is what recall returns and cites; only its vector and terms see this.
    """
    said = [passage(s, t) for s, t in zip(speakers, texts, strict=True)]
    before, after = context
    if not before and not after:
        return said
    out = []
    for i, here in enumerate(said):
        prev = [s[-NEIGHBOUR_CHARS:] for s in said[max(0, i - before) : i]]
        nxt = [s[:NEIGHBOUR_CHARS] for s in said[i + 1 : i + 1 + after]]
        out.append("\n".join([*prev, here, *nxt]))
    return out


def contextual_terms(
    terms: Sequence[list[str]],
    context: tuple[int, int] = TERMS_CONTEXT,
    weight: int = TERMS_LINE_WEIGHT,
) -> list[list[str]]:
    """Each line's BM25 terms within one part: its neighbours' terms and its own, `weight`
    times (the lines are analysed one by one, so context costs no analysis). (0, 0): the
    line's own terms alone, as before ENRICH_VERSION 4."""
    before, after = context
    if not before and not after:
        return [list(own) for own in terms]
    out = []
    for i, own in enumerate(terms):
        prev = [t for line in terms[max(0, i - before) : i] for t in line[-NEIGHBOUR_TERMS:]]
        nxt = [t for line in terms[i + 1 : i + 1 + after] for t in line[:NEIGHBOUR_TERMS]]
        out.append([*prev, *(list(own) * weight), *nxt])
    return out


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text[:MAX_LINE_CHARS])
    return "".join(ch if ch >= " " else " " for ch in text)


def stream(terms: Iterable[str]) -> str:
    """The text stored in `morphs` for a line's terms."""
    return " ".join(terms)


_SHARED_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _load_shared() -> Analyzer:
    return Analyzer()


def shared_analyzer() -> Analyzer:
    """The process's one analyzer, loaded on first use (Kiwi's model is large); a second
    thread asking while it loads waits for it instead of loading another."""
    with _SHARED_LOCK:
        return _load_shared()
