"""What each circuit reads: its persona, remembered lines, the declarations, the prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.identity import Manifest

MAX_LINE_CHARS = 300
MAX_MANIFEST_CHARS = 1200


class MemoryLine(Protocol):
    """A remembered line (core.memory_index.SearchHit has this shape)."""

    @property
    def day(self) -> str:
        """The day folder, e.g. day0320."""

    @property
    def text(self) -> str:
        """The clean line."""


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate (2 UTF-8 bytes a token) so context never overflows."""
    return len(text.encode("utf-8")) // 2 + 1


def _bounded(lines: list[str], budget_tokens: int) -> list[str]:
    kept: list[str] = []
    for line in lines:
        cost = estimate_tokens(line)
        if cost > budget_tokens:
            break
        kept.append(line)
        budget_tokens -= cost
    return kept


def build_messages(
    persona: str,
    prompt: str,
    *,
    memory: Sequence[MemoryLine] = (),
    manifests: Sequence[Manifest] = (),
    n_ctx: int,
    max_tokens: int,
) -> list[dict[str, str]]:
    """System + user messages, with as much context as fits in `n_ctx`."""
    budget = n_ctx - max_tokens - estimate_tokens(persona) - estimate_tokens(prompt) - 64
    blocks: list[str] = []
    declared = "\n".join(f"[{m.name}] {m.text}" for m in manifests)[:MAX_MANIFEST_CHARS]
    if declared and estimate_tokens(declared) < budget // 2:
        blocks.append("Declarations / 선언:\n" + declared)
        budget -= estimate_tokens(declared)
    remembered = [f"- ({hit.day}) {hit.text[:MAX_LINE_CHARS]}" for hit in memory]
    remembered = _bounded(remembered, budget)
    if remembered:
        blocks.append("Memory, past conversations / 기억:\n" + "\n".join(remembered))
    system = persona if not blocks else persona + "\n\n" + "\n\n".join(blocks)
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
