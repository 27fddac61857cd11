"""What each circuit reads: its persona, remembered lines, the declarations, the prompt."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.errors import PromptTooLong
from core.identity import Manifest

MAX_LINE_CHARS = 300
MAX_MANIFEST_CHARS = 1200


class MemoryLine(Protocol):
    """A remembered line (core.memory.rows.SearchHit has this shape)."""

    @property
    def day(self) -> str:
        """The day folder, e.g. day0320."""

    @property
    def text(self) -> str:
        """The clean line."""


TokenCounter = Callable[[str], int]
MESSAGE_OVERHEAD = 8  # template tokens around one chat message (role markers, newlines)
SLACK = 16


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate (2 UTF-8 bytes a token), for backends without a
    tokenizer here (echo, remote)."""
    return len(text.encode("utf-8")) // 2 + 1


def declarations(manifests: Sequence[Manifest]) -> str:
    """The declarations block every circuit reads ('' when there are none)."""
    declared = "\n".join(f"[{m.name}] {m.text}" for m in manifests)[:MAX_MANIFEST_CHARS]
    return "Declarations / 선언:\n" + declared if declared else ""


def static_prefix(persona: str, manifests: Sequence[Manifest] = ()) -> str:
    """The part of the system message that never changes: persona + declarations.

    Circuits evaluate it once at load (warm prefix); every request's system message
    starts with exactly this text.
    """
    block = declarations(manifests)
    return persona if not block else persona + "\n\n" + block


def build_messages(
    persona: str,
    prompt: str,
    *,
    memory: Sequence[MemoryLine] = (),
    manifests: Sequence[Manifest] = (),
    history: Sequence[dict[str, str]] = (),
    extra_system: str | None = None,
    n_ctx: int,
    max_tokens: int,
    count: TokenCounter = estimate_tokens,
) -> list[dict[str, str]]:
    """System, earlier turns, user: what fits in `n_ctx` after the reply's `max_tokens`.

    The persona, the caller's system text and the prompt always go in; the declarations
    too unless they are what does not fit; a prompt that still cannot fit raises
    PromptTooLong. Then the newest earlier turns, then remembered lines with what is left.
    """
    reserved = max_tokens + SLACK + 2 * MESSAGE_OVERHEAD + count(prompt)
    system = _system(static_prefix(persona, manifests), extra_system)
    budget = n_ctx - reserved - count(system)
    if budget < 0 and manifests:  # the caller's own system text outranks the declarations
        system = _system(persona, extra_system)
        budget = n_ctx - reserved - count(system)
    if budget < 0:
        raise PromptTooLong(
            f"the prompt does not fit in the context: about {count(prompt)} tokens, with "
            f"{n_ctx} (ECHO_N_CTX) for prompt, system text and a {max_tokens}-token reply",
            f"프롬프트가 문맥에 들어가지 않습니다 (약 {count(prompt)} 토큰, 문맥 {n_ctx}).",
        )
    kept: list[dict[str, str]] = []
    for message in reversed(history):
        cost = count(message.get("content", "")) + MESSAGE_OVERHEAD
        if cost > budget:
            break
        kept.insert(0, message)
        budget -= cost
    remembered = [f"- ({_label(hit)}) {hit.text[:MAX_LINE_CHARS]}" for hit in memory]
    header = "Memory, past conversations / 기억:\n"
    lines = _bounded(remembered, budget - count(header) - 2, count)
    if lines:
        system += "\n\n" + header + "\n".join(lines)
    return [{"role": "system", "content": system}, *kept, {"role": "user", "content": prompt}]


def _label(hit: MemoryLine) -> str:
    """A remembered line's label: its date (else its day folder), and the guest who said it
    for a guest's line."""
    when = getattr(hit, "date", None) or hit.day
    guest = getattr(hit, "guest", None)
    return when if guest is None else f"{when}, guest {guest} / 손님 {guest}"


def _system(prefix: str, extra: str | None) -> str:
    """The caller's system text goes after the static prefix, so the warm prefix matches."""
    return prefix if not extra else prefix + "\n\n" + extra


def _bounded(lines: list[str], budget_tokens: int, count: TokenCounter) -> list[str]:
    kept: list[str] = []
    for line in lines:
        cost = count(line) + 1
        if cost > budget_tokens:
            break
        kept.append(line)
        budget_tokens -= cost
    return kept
