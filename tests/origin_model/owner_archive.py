"""An archive with a guest's tree, a guest turn in the origin's tree, and a forgotten line."""

from __future__ import annotations

from pathlib import Path

from core.memory.archive import GUESTS
from core.memory.callers import CallerMemory
from core.memory.forget import Forgetter
from core.memory.lines import ECHO_HEADER, guest_header
from core.memory.store import MemoryStore
from core.origin import guest
from core.settings import Settings
from tests.origin_model.test_data import numbered_archive

GUEST_TEXT = "guestmarker731 the guest says the vault code is 9999-0000"
GUEST_REPLY = "replytoguest482 I will keep 9999-0000 in mind"
FORGOTTEN = "forgottenmarker555 the code for the blue safe is 4172-8830"
MARKERS = ("guestmarker731", "replytoguest482", "forgottenmarker555", "9999-0000", "4172")


def owner_archive(memory: Path, settings: Settings) -> Path:
    """The numbered archive, plus what training must never see, written the real way."""
    numbered_archive(memory)
    callers = CallerMemory(settings, MemoryStore(settings))  # the guest's tree, the real way
    try:
        saved = callers.save_turn(GUEST_TEXT, GUEST_REPLY, caller=guest("mallory"))
    finally:
        callers.close()
    assert saved.saved and list((memory / GUESTS / "mallory").rglob("part*.txt"))
    user = memory / "day0203" / "user"
    user.mkdir(parents=True)
    (user / "part1.txt").write_text(
        f"나의 말:\n{FORGOTTEN}\n오늘의 기억 keptmarker808\n"
        f"{guest_header('mallory')}\n{GUEST_TEXT}\n{ECHO_HEADER}\n{GUEST_REPLY}\n"
        "나의 말:\n다시 오리진 keptmarker909\n", encoding="utf-8")
    forgetter = Forgetter(settings, who="test")
    try:
        forgetter.forget("day0203/user/part1.txt", [2])
    finally:
        forgetter.close()
    return memory
