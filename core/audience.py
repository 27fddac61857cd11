"""Who a circuit answers: models learned from the memory serve the origin only.

A circuit whose model learned from the memory (the origin's nano model, flagged in its GGUF,
or a circuit set so with ECHO_<CIRCUIT>_ORIGIN_ONLY) answers the origin and is `unavailable`
for anyone else; the other circuits answer. A circuit with a LoRA adapter answers the origin
with the adapter and anyone else with the base model: the request says who asks
(`Generation.origin`), and whose KV state it may reuse (`Generation.audience`).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import Forbidden
from core.origin import Caller
from llm.circuit import Circuit, CircuitResult

ORIGIN_ONLY = (
    "this circuit's model learned from the origin's memory: it answers the origin only "
    "/ 이 회로의 모델은 오리진의 기억으로 학습되어 오리진에게만 답합니다"
)


def audience(caller: Caller) -> str | None:
    """Whose KV state a request may reuse: the caller's name; None for anonymous (nobody's)."""
    return caller.name if caller.authenticated else None


def serving(circuits: Sequence[Circuit], caller: Caller) -> list[Circuit]:
    """The circuits that may answer this caller; refuse when none of them may."""
    allowed = [c for c in circuits if c.serves(caller.is_origin)]
    if circuits and not allowed:
        names = ", ".join(c.name for c in circuits)
        raise Forbidden(
            f"{names}: the model learned from the origin's memory and answers the origin only.",
            f"{names}: 오리진의 기억으로 학습된 모델이라 오리진에게만 답합니다.",
        )
    return allowed


def origin_only(circuit: Circuit) -> CircuitResult:
    """The result a non-origin caller gets from an origin-only circuit."""
    return CircuitResult("", "unavailable", error=ORIGIN_ONLY)
