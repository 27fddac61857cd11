"""The identity reflex: which prompts are identity questions, and the model-free answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.identity import (
    CIRCUIT_ROLES,
    Manifest,
    is_identity_question,
    load_manifests,
    reflect_identity,
)
from core.settings import load_settings

# The reference list of what counts (the regexes in core.identity decide).
IDENTITY_PATTERNS: tuple[str, ...] = (
    "너는 누구야", "너 누구야", "넌 누구니", "넌 누구야", "당신은 누구", "누구세요", "너는 뭐야",
    "네 이름이 뭐야", "자기소개", "자아", "정체성",
    "who are you", "what are you", "what is your name", "your identity",
    "introduce yourself", "tell me about yourself", "who am i talking to",
)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]{3,}")

POSITIVE = [
    "너는 누구야?",
    "너는 누구야",
    "너 누구야",
    "넌 누구니?",
    "넌 누구야",
    "넌누구야",
    "당신은 누구세요?",
    "당신은 누구인가요?",
    "에코야, 너는 누구야",
    "그래서 너 도대체 누구야??",
    "누구세요?",
    "너 뭐야",
    "네 이름이 뭐야?",
    "이름이 뭐야?",
    "자기소개 해줘",
    "자아",
    "자아?",
    "너의 자아는?",
    "정체성",
    "너의 정체성은 뭐야?",
    "Who are you?",
    "who are you",
    "WHO ARE YOU!!",
    "  who   are\tyou ?  ",
    "Who are you, really?",
    "hey, who are you?",
    "So who are you exactly?",
    "What are you?",
    "What is your name?",
    "what's your name",
    "what\u2019s your name?",
    "Tell me about yourself.",
    "Introduce yourself.",
    "please introduce yourself",
    "What is your identity?",
    "Tell me who you are.",
    "Who am I talking to?",
    "\uff37\uff28\uff2f \uff41\uff52\uff45 \uff59\uff4f\uff55",  # full-width letters
    "오늘 좋았어. 근데 너는 누구야?",
    "I have a question. Who are you?",
]

NEGATIVE = [
    "",
    "   ",
    "?!",
    "who are you going to invite?",
    "Who are you voting for?",
    "What are you doing today?",
    "what are your plans for the weekend",
    "Who are your favourite authors?",
    "I wonder who you are going to call",
    "What is the name of this song?",
    "Write your name on the form",
    "파이썬으로 계산기 만들어줘",
    "오늘 날씨 어때?",
    "너는 누구를 좋아해?",
    "너 누구랑 놀았어?",
    "트레이너 누구야?",
    "어머니 누구야?",
    "이 노래 이름이 뭐야?",
    "넌 무엇을 좋아해?",
    "분위기를 자아내는 음악 추천해줘",
    "브랜드 정체성 설계 문서를 마케팅 팀을 위해 상세히 써줘",
    "자아 실현에 관한 에세이를 오백 자로 써 줄 수 있을까",
    "memory search: day0320",
]


@pytest.mark.parametrize("prompt", POSITIVE)
def test_identity_questions_are_recognised(prompt: str) -> None:
    assert is_identity_question(prompt), prompt


@pytest.mark.parametrize("prompt", NEGATIVE)
def test_ordinary_prompts_are_not_identity_questions(prompt: str) -> None:
    assert not is_identity_question(prompt), prompt


@pytest.mark.parametrize("pattern", IDENTITY_PATTERNS)
def test_every_documented_pattern_is_recognised(pattern: str) -> None:
    assert is_identity_question(pattern)
    assert is_identity_question(pattern.upper() + "?")


@pytest.mark.parametrize("prompt", NEGATIVE)
def test_reflect_identity_is_none_for_ordinary_prompts(prompt: str) -> None:
    assert reflect_identity(prompt, load_manifests(load_settings().manifest_dir)) is None


def test_reflection_is_bilingual_and_names_the_identity() -> None:
    manifests = load_manifests(load_settings().manifest_dir)
    reply = reflect_identity("너는 누구야?", manifests)
    assert reply is not None
    assert "에코브레인" in reply and "Echo Brain" in reply
    assert "오리진" in reply and "origin" in reply
    for name, role_en, role_ko in CIRCUIT_ROLES:
        assert name in reply and role_en in reply and role_ko in reply
    assert HANGUL.search(reply) and LATIN.search(reply)


def test_reflection_quotes_the_manifests() -> None:
    manifests = [
        Manifest("vow", "# heading is skipped\n\n첫 선언 / first vow\nsecond line"),
        Manifest("empty", ""),
    ]
    reply = reflect_identity("who are you?", manifests)
    assert reply is not None
    assert "vow: 첫 선언 / first vow" in reply
    assert "heading is skipped" not in reply and "second line" not in reply


def test_reflection_works_without_manifests() -> None:
    reply = reflect_identity("who are you", [])
    assert reply is not None and "Echo Brain" in reply and "에코브레인" in reply


def test_reflection_bounds_long_manifest_lines() -> None:
    reply = reflect_identity("자아", [Manifest("long", "x" * 5000)])
    assert reply is not None and len(reply) < 2000


def test_repo_ships_three_bilingual_manifests() -> None:
    manifest_dir = load_settings().manifest_dir
    files = sorted(Path(manifest_dir).glob("*.txt"))
    assert len(files) == 3
    manifests = load_manifests(manifest_dir)
    assert [m.name for m in manifests] == [f.stem for f in files]
    for manifest in manifests:
        lines = [line for line in manifest.text.splitlines() if line.strip()]
        korean = [line for line in lines if HANGUL.search(line)]
        english = [line for line in lines if LATIN.search(line) and not HANGUL.search(line)]
        assert len(korean) >= 5 and len(english) >= 5, manifest.name  # side by side
    reply = reflect_identity("who are you?", manifests)
    assert reply is not None
    for manifest in manifests:
        assert f"- {manifest.name}: " in reply
