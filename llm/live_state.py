"""The one live KV state of a worker's context: whose it is, and what a request may reuse.

llama-cpp-python reuses the longest common token prefix of the previous prompt. A prompt
holds the caller's remembered lines and words, so the state one caller's request leaves is
never reused for another caller beyond the static prefix (persona and declarations, the same
for everyone): otherwise the reused-token count (`echo_prompt_cached_tokens_total`, or just
the time to the first token) would tell a guest how much of a guessed text the origin's last
turn held. Anonymous callers cannot be told apart, so their state is never shared either.

A circuit with a LoRA adapter answers the origin with it and everyone else with the base
model. The adapter is set per context, and KV cells evaluated with it differ from cells
evaluated without, so each warm prefix is kept twice (with and without), and switching
restores the warm prefix made with the new setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llm.adapter import apply_adapter
from llm.llama_private import live_tokens
from llm.prefix_state import truncate_sequence, write_sequence


@dataclass(frozen=True)
class Owner:
    """Who left the live state: the caller's name (None: anonymous) and the adapter setting."""

    audience: str | None
    adapted: bool

    def shares_with(self, other: Owner) -> bool:
        """True when `other` may reuse everything this owner's state holds."""
        return (self.adapted == other.adapted and self.audience is not None
                and self.audience == other.audience)


@dataclass
class WarmPrefix:
    """A static prefix evaluated at load, with (or without) the adapter."""

    tokens: list[int]
    adapted: bool = False
    state: bytes | None = None  # the sequence state, when several prefixes take turns


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def reusable(live: Sequence[int], tokens: Sequence[int], statics: Sequence[Sequence[int]],
             *, same_mode: bool, same_caller: bool) -> int:
    """How many tokens of the live state `tokens` may reuse.

    Nothing when the state was made with the other adapter setting; what it shares with
    the prompt when it is the same caller's; else no more than a static prefix shares.
    """
    if not same_mode:
        return 0
    shared = common_prefix(live, tokens)
    if same_caller:
        return shared
    return min(shared, max((common_prefix(p, tokens) for p in statics), default=0))


class LiveState:
    """The live KV state of one `llama_cpp.Llama`, its warm prefixes and its adapter."""

    def __init__(self, llama: Any, adapter: Any = None, scale: float = 1.0) -> None:
        self.llama = llama
        self.adapter = adapter  # llama.cpp's handle of the loaded LoRA adapter (None: none)
        self.scale = scale
        self.prefixes: list[WarmPrefix] = []
        self.owner = Owner(None, adapted=False)  # loaded, not applied

    @property
    def modes(self) -> tuple[bool, ...]:
        """The adapter settings this context serves: the base, and the adapter when loaded."""
        return (False, True) if self.adapter is not None else (False,)

    def set_adapted(self, adapted: bool) -> None:
        """Apply the adapter (the origin) or clear it (everyone else)."""
        if self.adapter is not None:
            apply_adapter(self.llama, self.adapter if adapted else None, self.scale)
        self.owner = Owner(None, adapted and self.adapter is not None)

    def prepare(self, tokens: Sequence[int], audience: str | None, origin: bool) -> int:
        """Set the adapter for this caller, keep in the KV only what it may reuse; tokens reused."""
        want = Owner(audience, origin and self.adapter is not None)
        previous = self.owner
        if want.adapted != previous.adapted:
            self.set_adapted(want.adapted)
        self.owner = want
        mine = [p for p in self.prefixes if p.adapted == want.adapted]
        keep = reusable(self.live(), tokens, [p.tokens for p in mine],
                        same_mode=want.adapted == previous.adapted,
                        same_caller=previous.shares_with(want))
        keep = min(keep, len(tokens) - 1)  # the last prompt token is evaluated again: logits
        stored = [(common_prefix(p.tokens, tokens), p) for p in mine if p.state is not None]
        shared, best = max(stored, key=lambda pair: pair[0], default=(0, None))
        if best is not None and best.state is not None and shared > keep:
            if not write_sequence(self.llama, best.tokens, best.state):
                truncate_sequence(self.llama, 0)  # llama.cpp refused it: evaluate it all
        else:
            truncate_sequence(self.llama, keep)
        # What llama-cpp-python will reuse, read from the state itself (it keeps the last token
        # of the prompt out, to have logits to sample from).
        return max(0, min(common_prefix(self.live(), tokens), len(tokens) - 1))

    def forget(self, audience: str | None, origin: bool) -> None:
        """Before a request with no static prefix (no chat template): share nothing."""
        want = Owner(audience, origin and self.adapter is not None)
        previous = self.owner
        if want.adapted != previous.adapted:
            self.set_adapted(want.adapted)
        if not previous.shares_with(want):
            truncate_sequence(self.llama, 0)
        self.owner = want

    def live(self) -> list[int]:
        """The tokens the live KV state holds."""
        return live_tokens(self.llama)
