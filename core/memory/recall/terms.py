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
    """What is embedded for a line: its text, after the speaker's name when it has one."""
    name = named_speaker(speaker)
    return f"{name}: {text}" if name else text


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
