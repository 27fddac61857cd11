"""How the circuits' replies become one: `concat` or `synthesize`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from llm.personas import SYNTHESIS_INSTRUCTION

__all__ = ["SYNTHESIS_INSTRUCTION", "concat", "synthesis_prompt"]

MERGE_ORDER = ("self", "emotion", "creation")


class Draft(Protocol):
    """A circuit's answer (llm.circuit.CircuitResult has this shape)."""

    text: str
    status: str


def concat(results: Mapping[str, Draft]) -> str:
    """The origin's first design: self, emotion, creation joined by blank lines."""
    return "\n\n".join(
        results[name].text for name in MERGE_ORDER if name in results and results[name].text
    )


def synthesis_prompt(question: str, results: Mapping[str, Draft]) -> str:
    """The aggregation prompt (Mixture-of-Agents style) for the self circuit."""
    drafts = "\n\n".join(
        f"[{name}]\n{results[name].text}"
        for name in MERGE_ORDER
        if name in results and results[name].status == "ok" and results[name].text
    )
    return f"Question / 질문:\n{question}\n\nDrafts / 초안:\n{drafts}"
