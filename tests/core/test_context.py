"""Fitting a circuit's messages into n_ctx (token counting by words, for the logic only)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.context import build_messages, static_prefix
from core.errors import PromptTooLong
from core.identity import Manifest


def words(text: str) -> int:
    return len(text.split())


@dataclass
class Hit:
    day: str
    text: str


DECLARED = [Manifest("identity", "I am Echo. " * 20)]


def test_the_oldest_turns_go_first_then_the_remembered_lines() -> None:
    history = [{"role": "user", "content": f"turn{i} " + "w " * 30} for i in range(10)]
    memory = [Hit("day0101", "remembered " * 10) for _ in range(5)]
    messages = build_messages("persona", "now?", memory=memory, manifests=DECLARED,
                              history=history, n_ctx=300, max_tokens=20, count=words)
    kept = [m["content"].split()[0] for m in messages[1:-1]]
    assert kept == [f"turn{i}" for i in range(10 - len(kept), 10)] and 0 < len(kept) < 10
    assert messages[0]["content"].startswith(static_prefix("persona", DECLARED))
    assert messages[0]["content"].count("(day0101)") < 5  # what was left after the turns
    assert messages[-1] == {"role": "user", "content": "now?"}


def test_remembered_lines_fill_what_is_left() -> None:
    memory = [Hit("day0101", f"line{i} " * 5) for i in range(40)]
    messages = build_messages("persona", "q", memory=memory, n_ctx=200, max_tokens=20,
                              count=words)
    remembered = messages[0]["content"].count("(day0101)")
    assert 5 < remembered < 40


def test_the_callers_system_text_outranks_the_declarations() -> None:
    big = "instruction " * 150
    messages = build_messages("persona", "q", manifests=DECLARED, extra_system=big,
                              n_ctx=260, max_tokens=20, count=words)
    assert big.strip() in messages[0]["content"] and "Declarations" not in messages[0]["content"]


def test_a_prompt_that_cannot_fit_is_413() -> None:
    with pytest.raises(PromptTooLong) as info:
        build_messages("persona", "w " * 500, n_ctx=256, max_tokens=20, count=words)
    assert info.value.message_ko
