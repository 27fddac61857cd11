"""Retrieval sets for the recall benchmark, built at run time from public data nobody here wrote.

- Korean paraphrase: Debian's Korean gettext catalogues (/usr/share/locale/ko/LC_MESSAGES)
  hold the same English message translated by different translators. Query: one Korean
  translation; relevant: the line(s) of a different Korean translation of the same message.
- Cross-language: an English message as the query, its Korean translation(s) relevant,
  over the same archive (the archive holds only the Korean side).
- English conversations: LoCoMo (snap-research, CC BY-NC 4.0): ten long multi-session
  conversations; a question's relevant lines are its evidence turns (see recall_locomo.py).

Nothing here is committed: the catalogues are read from the machine, the archive written
into a work folder for each run. The recorded run had 94 Korean catalogues: a Debian 12
base plus, installed for the benchmark (`apt-get install --no-install-recommends`),
DEBIAN_EXTRAS below; fewer catalogues give fewer pairs (the run prints the counts).
"""

from __future__ import annotations

import gettext
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.recall_archive import LineRef, Turn, Written, write_archive

LOCALE = Path("/usr/share/locale/ko/LC_MESSAGES")
HEADERS = ("나의 말:", "ChatGPT의 말:")
FORMAT_RE = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t|I64)?[a-zA-Z%]"
    r"|\{[^{}]*\}|\$\{[^{}]*\}|<[^<>]*>|\(_\w\)|&\w|_(?=\w)"
)
NOT_WORD_RE = re.compile(r"[\W_]+")
LATIN_RE = re.compile(r"[a-z]{3,}")
MIN_KOREAN = 4  # normalised characters of each Korean side of a pair
MIN_ENGLISH = 10  # normalised characters of the English message
DEBIAN_EXTRAS = (
    "util-linux-locales nano gawk cpio mc libgtk-3-common gnupg-l10n e2fsprogs-l10n sharutils "
    "texinfo sudo parted bison aptitude-common debconf-i18n tasksel-data dialog lynx-common "
    "alsa-utils libgtk-4-common zenity-common geany-common gnome-desktop3-data "
    "libgweather-4-common evince-common gedit-common nautilus-data"
)
TURNS_A_DAY = 6000  # about 30 parts of single-line turns


@dataclass(frozen=True)
class Query:
    """One question: its text, the lines that answer it, and a note for the misses list."""

    text: str
    relevant: frozenset[LineRef]
    note: str = ""
    asked: date | None = None  # the day it is asked on (None: today)


@dataclass
class RecallSet:
    """A named set of queries over one archive folder."""

    name: str
    memory: Path
    queries: list[Query]
    info: dict[str, Any] = field(default_factory=dict)


def normalise(text: str) -> str:
    """Text without format directives, mnemonics, markup, spaces or punctuation, casefolded."""
    return NOT_WORD_RE.sub("", FORMAT_RE.sub("", text).casefold())


def _stable(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def read_catalogues(locale: Path = LOCALE) -> tuple[dict[str, dict[str, str]], list[str]]:
    """English message -> {catalogue: Korean translation}, and the catalogues read."""
    by_english: dict[str, dict[str, str]] = defaultdict(dict)
    names = []
    for path in sorted(locale.glob("*.mo")):
        if path.is_symlink():  # iso_639.mo -> iso_639-2.mo: the same translator
            continue
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except (OSError, ValueError):
            continue
        names.append(path.stem)
        for key, korean in catalog.items():
            if isinstance(key, tuple) and key[1] != 0:
                continue  # plural forms beyond the first
            english = (key[0] if isinstance(key, tuple) else key).split("\x04")[-1]
            if english and korean and korean.strip() and korean != english:
                by_english[english].setdefault(path.stem, korean)
    return dict(by_english), names


def _english_ok(english: str, min_words: int) -> bool:
    return len(normalise(english)) >= MIN_ENGLISH and len(english.split()) >= min_words


def _mostly_copied(english: str, korean: str) -> bool:
    """Whether the translation keeps half or more of the English words (options, names)."""
    words = set(LATIN_RE.findall(FORMAT_RE.sub("", english).casefold()))
    kept = set(LATIN_RE.findall(korean.casefold()))
    return bool(words) and len(words & kept) * 2 >= len(words)


def paraphrase_pairs(by_english: dict[str, dict[str, str]]) -> list[tuple[str, str, list[str]]]:
    """(English, query translation, other translations) for messages translated differently.

    Trivial pairs are left out: the same after normalisation, a side shorter than
    MIN_KOREAN normalised characters, or an English message that is mostly a format string.
    """
    pairs = []
    for english, translations in by_english.items():
        if not _english_ok(english, 2):
            continue
        distinct: dict[str, str] = {}
        for catalogue in sorted(translations):
            korean = translations[catalogue]
            key = normalise(korean)
            if len(key) >= MIN_KOREAN and key not in distinct:
                distinct[key] = korean
        if len(distinct) >= 2:
            first, *others = distinct.values()
            pairs.append((english, first, others))
    return sorted(pairs, key=lambda p: _stable(p[0]))


def build_korean_sets(
    work: Path, max_messages: int, max_queries: int, locale: Path = LOCALE
) -> tuple[RecallSet, RecallSet]:
    """The Korean paraphrase set and the cross-language set, over one archive of Korean turns."""
    by_english, catalogues = read_catalogues(locale)
    pairs = paraphrase_pairs(by_english)[:max_queries]
    held_out = {normalise(query) for _, query, _ in pairs}  # a query never finds itself
    cross = [
        english for english in sorted(by_english, key=_stable) if _english_ok(english, 3)
        and any(len(normalise(k)) >= MIN_KOREAN and normalise(k) not in held_out
                and not _mostly_copied(english, k) for k in by_english[english].values())
    ][:max_queries]
    wanted = [k for _, _, others in pairs for k in others]
    wanted += [k for english in cross for k in by_english[english].values()]
    memory = work / "ko" / "memory"
    written, order = _korean_archive(memory, by_english, wanted, held_out, max_messages)
    paraphrase = _queries(
        written, [(query, others, english) for english, query, others in pairs])
    cross_queries = _queries(
        written, [(english, list(by_english[english].values()), "") for english in cross])
    info = {"catalogues": len(catalogues), "english_messages": len(by_english),
            "pairs": len(pairs), "messages": len(order), "lines": len(written.texts),
            "parts": written.parts, "reused": written.reused}
    return (RecallSet("korean-paraphrase", memory, paraphrase, info),
            RecallSet("cross-language", memory, cross_queries, info))


def build_korean_train_set(
    work: Path, max_messages: int, test_queries: int, locale: Path = LOCALE
) -> RecallSet:
    """Korean paraphrase pairs the benchmark does not ask (those after its first
    `test_queries`), over an archive of their own that holds none of the benchmark's pairs'
    texts: data to learn a setting from without looking at the test split."""
    by_english, _ = read_catalogues(locale)
    pairs = paraphrase_pairs(by_english)
    test, train = pairs[:test_queries], pairs[test_queries:]
    held_out = {normalise(query) for _, query, _ in train}
    held_out |= {normalise(k) for _, query, others in test for k in (query, *others)}
    wanted = [k for _, _, others in train for k in others]
    memory = work / "ko-train" / "memory"
    written, order = _korean_archive(memory, by_english, wanted, held_out, max_messages)
    queries = _queries(written, [(query, others, english) for english, query, others in train])
    info = {"pairs": len(train), "messages": len(order), "lines": len(written.texts),
            "parts": written.parts, "reused": written.reused}
    return RecallSet("korean-paraphrase-train", memory, queries, info)


def _korean_archive(
    memory: Path, by_english: dict[str, dict[str, str]], wanted: list[str], held_out: set[str],
    max_messages: int,
) -> tuple[Written, list[str]]:
    """Write up to `max_messages` Korean messages as alternating single-line turns: the
    wanted ones first, then any others, never a text in `held_out`; (written, their order)."""
    everything = {k for translations in by_english.values() for k in translations.values()}
    messages: dict[str, None] = {}
    for korean in [*wanted, *sorted(everything, key=_stable)]:
        if len(messages) >= max_messages:
            break
        if normalise(korean) not in held_out:
            messages[korean] = None
    order = sorted(messages, key=_stable)
    turns = [
        Turn(f"day{1 + i // TURNS_A_DAY:04d}", HEADERS[i % 2], tuple(korean.split("\n")), korean)
        for i, korean in enumerate(order)
    ]
    return write_archive(memory, turns), order


def _queries(
    written: Written, specs: list[tuple[str, list[str], str]]
) -> list[Query]:
    """Queries whose relevant turns made it into the archive (others are left out)."""
    queries = []
    for text, keys, note in specs:
        refs = frozenset(ref for key in keys for ref in written.refs.get(key, []))
        if refs:
            queries.append(Query(text.strip(), refs, note))
    return queries
