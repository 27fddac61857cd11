"""Whose words are whose: each caller's turns in their own tree, real files and SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.boot_memory_loop import replay_archive
from core.echo_brain import EchoBrain
from core.memory.callers import CallerMemory
from core.memory.index import MemoryIndex
from core.memory.lines import ORIGIN_HEADER, parse_header
from core.memory_core import MemoryStore
from core.origin import ANONYMOUS_CALLER, ORIGIN_CALLER, guest
from core.settings import Settings, load_settings
from origin_model.corpus import ArchiveStats, iter_turns

ANA, BO = guest("ana"), guest("bo")


def memory(settings: Settings) -> CallerMemory:
    return CallerMemory(settings, MemoryStore(settings))


def tree_text(root: Path) -> str:
    return "\n".join(p.read_text("utf-8") for p in sorted(root.rglob("part*.txt")))


def test_a_guests_turn_goes_to_the_guests_own_tree_under_the_guests_header(
    settings: Settings,
) -> None:
    mem = memory(settings)
    saved = mem.save_turn("remember this: the code is 9999-0000", "noted", caller=ANA)
    assert saved.saved and saved.path is None  # a guest is not told where files lie
    origin = mem.save_turn("my own words", "yes", caller=ORIGIN_CALLER)
    assert origin.path is not None and "/user/part1.txt" in origin.path
    day = mem.origin.today()
    guest_part = settings.memory_dir / "guests/ana" / day / "part1.txt"
    assert guest_part.read_text("utf-8").splitlines()[:2] == [
        "손님 ana의 말:", "remember this: the code is 9999-0000"]
    assert parse_header("손님 ana의 말:") == "guest:ana"
    assert (settings.memory_backup_dir / "guests/ana" / day / "part1.txt").read_bytes() == (
        guest_part.read_bytes())
    origin_text = "\n".join(
        p.read_text("utf-8") for p in sorted(settings.memory_dir.glob("day*/**/part*.txt")))
    assert "9999-0000" not in origin_text and ORIGIN_HEADER in origin_text
    # the origin's replay and training never read a guest's tree
    insight = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert insight["lines"] == 2 and not any("guests" in s["path"] for s in insight["skipped"])
    corpus = " ".join(t.text for t in iter_turns(settings.memory_dir, settings, ArchiveStats()))
    assert "my own words" in corpus and "9999-0000" not in corpus
    assert not MemoryIndex(settings.memory_dir).search("9999")


def test_idempotency_keys_are_scoped_per_caller(settings: Settings) -> None:
    mem = memory(settings)
    assert mem.save_turn("guest first", "a", idempotency_key="k-1", caller=ANA).saved
    origin = mem.save_turn("origin second", "b", idempotency_key="k-1", caller=ORIGIN_CALLER)
    assert origin.saved and not origin.duplicate
    assert "origin second" in tree_text(settings.memory_dir / mem.origin.today())
    again = mem.save_turn("origin second", "b", idempotency_key="k-1", caller=ORIGIN_CALLER)
    assert again.duplicate
    other = mem.save_turn("bo's turn", "c", idempotency_key="k-1", caller=BO)
    assert other.saved and not other.duplicate


def test_anonymous_turns_are_saved_only_when_a_setting_says_so(settings: Settings) -> None:
    result = memory(settings).save_turn("hello", "hi", caller=ANONYMOUS_CALLER)
    assert not result.saved and "ECHO_SAVE_ANONYMOUS" in (result.error or "")
    assert not (settings.memory_dir / "guests").exists()
    on = load_settings(save_anonymous=True)
    assert memory(on).save_turn("hello", "hi", caller=ANONYMOUS_CALLER).saved
    assert "손님 anonymous의 말:" in tree_text(on.memory_dir / "guests/anonymous")


class _Origin:
    """The origin's recall: one planted line."""

    day, part, line, speaker, text = "day0101", 1, 3, "origin", "the blue safe code is 4172-8830"

    def context_for(self, prompt: str, k: int = 8) -> list[_Origin]:
        return [self]


def remembered(settings: Settings, caller: object, mem: CallerMemory) -> list[dict[str, object]]:
    brain = EchoBrain(settings, {}, memory=mem, context=_Origin())
    lines = asyncio.run(brain.remember("what is the blue safe code", caller))  # type: ignore[arg-type]
    return [{"text": x.text, "guest": getattr(x, "guest", None)} for x in lines]


def test_recall_by_caller(settings: Settings) -> None:
    mem = memory(settings)
    mem.save_turn("ana asks: what is the blue safe code?", "no idea", caller=ANA)
    mem.save_turn("bo asks: the blue safe code please", "no", caller=BO)
    got = remembered(settings, ORIGIN_CALLER, mem)
    assert got == [{"text": _Origin.text, "guest": None}]  # guests left out by default
    ana = remembered(settings, ANA, mem)
    assert ana and all(x["guest"] == "ana" for x in ana)  # her own lines, nobody else's
    assert not any("4172" in str(x["text"]) or "bo asks" in str(x["text"]) for x in ana)
    assert remembered(settings, ANONYMOUS_CALLER, mem) == []
    assert remembered(load_settings(guest_recall=False), ANA, mem) == []
    both = remembered(load_settings(recall_guests=True), ORIGIN_CALLER, mem)
    assert both[0] == {"text": _Origin.text, "guest": None}  # his first, theirs after
    assert {x["guest"] for x in both[1:]} == {"ana", "bo"}
