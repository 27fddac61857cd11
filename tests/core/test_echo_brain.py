"""The orchestrator with fake backends: fan-out, merge, unavailable, not ready, busy."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from core.echo_brain import EchoBrain
from core.errors import CircuitBusy, NotReady
from core.origin import ORIGIN_CALLER, Caller
from core.settings import CIRCUIT_NAMES, Settings, load_settings
from llm.circuit import Circuit
from tests.fakes import FakeBackend

ANYONE = Caller(is_origin=False, authenticated=False)


def brain_with(
    backends: dict[str, FakeBackend],
    settings: Settings | None = None,
    *,
    load: bool = True,
    queue_size: int = 8,
) -> EchoBrain:
    settings = settings or load_settings()
    circuits = {
        name: Circuit(
            name,
            f"persona of {name}",
            (lambda b=b: b),
            timeout_s=settings.circuit_timeout_s,
            queue_size=queue_size,
        )
        for name, b in backends.items()
    }
    if load:
        for circuit in circuits.values():
            circuit.load()
    return EchoBrain(settings, circuits)


def three(delay: float = 0.0) -> dict[str, FakeBackend]:
    return {name: FakeBackend(delay=delay) for name in CIRCUIT_NAMES}


def test_concat_merges_self_emotion_creation_in_that_order() -> None:
    backends = three()
    for name, backend in backends.items():
        backend.enqueue(f"from {name}")
    answer = asyncio.run(brain_with(backends).ask("hello there", caller=ANYONE))
    assert answer.kind == "echo"
    assert answer.reply == "from self\n\nfrom emotion\n\nfrom creation"
    assert {n: r.status for n, r in answer.circuits.items()} == dict.fromkeys(CIRCUIT_NAMES, "ok")
    assert answer.circuits["self"].tokens == 2


def test_each_circuit_gets_its_persona_and_the_prompt() -> None:
    backends = three()
    asyncio.run(brain_with(backends).ask("what is the sea?", caller=ANYONE))
    for name, backend in backends.items():
        messages = backend.history[0].messages
        assert messages[0]["role"] == "system" and f"persona of {name}" in messages[0]["content"]
        assert messages[-1] == {"role": "user", "content": "what is the sea?"}


def test_circuits_run_concurrently() -> None:
    backends = three(delay=0.1)
    for backend in backends.values():
        backend.enqueue("a b c")
    brain = brain_with(backends)
    started = time.monotonic()
    asyncio.run(brain.ask("go", caller=ANYONE))
    # three circuits of 0.3 s each: one after another would take 0.9 s
    assert time.monotonic() - started < 0.7


def test_failed_circuit_is_unavailable_and_the_others_answer() -> None:
    backends = three()
    backends["emotion"].fail_load = "model file not found"
    answer = asyncio.run(brain_with(backends).ask("hi", caller=ANYONE))
    assert answer.circuits["emotion"].status == "unavailable"
    assert answer.circuits["emotion"].error == "model file not found"
    assert answer.circuits["self"].status == "ok"


def test_only_the_origin_sees_file_paths_in_a_circuits_error() -> None:
    backends = three()
    backends["emotion"].fail_load = "model file not found: /srv/models/emotion.gguf / 없음"
    brain = brain_with(backends)
    guest = asyncio.run(brain.ask("hi", caller=ANYONE)).circuits["emotion"].error
    assert guest == "model file not found: … / 없음"
    origin = asyncio.run(brain.ask("hi", caller=ORIGIN_CALLER)).circuits["emotion"].error
    assert origin is not None and "/srv/models/emotion.gguf" in origin


def test_no_ready_circuit_raises_not_ready_with_retry_after() -> None:
    brain = brain_with(three(), load=False)
    with pytest.raises(NotReady) as info:
        asyncio.run(brain.ask("hi", caller=ANYONE))
    assert info.value.retry_after


def test_timeout_is_reported_and_the_merge_goes_on() -> None:
    backends = three()
    backends["creation"].delay = 0.2
    backends["creation"].enqueue("slow " * 20)
    brain = brain_with(backends, load_settings(circuit_timeout_s=0.3))
    answer = asyncio.run(brain.ask("hi", caller=ANYONE))
    assert answer.circuits["creation"].status == "timeout"
    assert answer.circuits["self"].status == "ok"
    assert answer.reply.startswith("ok")


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition` holds (state observed, not time guessed)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.001)


def test_busy_circuit_rejects_the_whole_fan_out() -> None:
    backends = three()
    gate = threading.Event()
    for backend in backends.values():
        backend.gate = gate
    brain = brain_with(backends, queue_size=1)  # a queue of one waiting request

    async def main() -> None:
        first = asyncio.create_task(brain.fan_out("one"))
        await until(lambda: all(b.active == 1 for b in backends.values()))  # one runs
        second = asyncio.create_task(brain.fan_out("two"))
        await until(lambda: all(c.queue_depth == 2 for c in brain.circuits.values()))  # one waits
        with pytest.raises(CircuitBusy):
            await brain.fan_out("three")
        gate.set()
        answers = await asyncio.gather(first, second)
        assert all(r.status == "ok" for answer in answers for r in answer.values())
        assert all(len(b.history) == 2 for b in backends.values())  # "three" never ran

    asyncio.run(main())


def test_synthesize_asks_self_for_the_final_answer() -> None:
    backends = three()
    for name, backend in backends.items():
        backend.enqueue(f"draft of {name}")
    backends["self"].enqueue("the one answer")
    brain = brain_with(backends, load_settings(merge="synthesize"))
    answer = asyncio.run(brain.ask("why?", caller=ANYONE))
    assert answer.reply == "the one answer"
    aggregation = backends["self"].history[1].messages
    assert "draft of emotion" in aggregation[-1]["content"]
    assert "drafts" in aggregation[0]["content"].lower()


def test_a_token_in_the_prompt_never_reaches_memory() -> None:
    saved: list[tuple[str, str]] = []

    class Store:
        def guest_names(self) -> list[str]:
            return []

        def lines_of(self, names: list[str], prompt: str, k: int) -> list[object]:
            return []

        def save_turn(self, prompt: str, reply: str, *, idempotency_key: str | None = None,  # type: ignore[no-untyped-def]
                      caller: Caller):
            saved.append((prompt, reply))

            class Result:
                def as_dict(self) -> dict[str, bool]:
                    return {"saved": True}

            return Result()

    backends = three()
    settings = load_settings(origin_token="tok-3141592653")
    brain = brain_with(backends, settings)
    brain.memory = Store()
    answer = asyncio.run(brain.ask("my token is tok-3141592653, keep it", caller=ANYONE))
    assert answer.memory == {"saved": True}
    assert saved and all("tok-3141592653" not in text for pair in saved for text in pair)
    assert "***" in saved[0][0]


class _Remembered:
    """A context source with one line (the real recall is tested with the real models)."""

    day, part, line, speaker, text = "day0101", 1, 2, "origin", "the planted line 7731"

    def context_for(self, prompt: str, k: int = 8) -> list[_Remembered]:
        return [self]


@pytest.mark.parametrize(("caller", "share", "carried"), [
    (Caller(is_origin=True, authenticated=True), False, True),
    (Caller(is_origin=False, authenticated=True), False, False),
    (ANYONE, False, False),
    (Caller(is_origin=False, authenticated=True), True, True),
])
def test_only_the_origin_gets_remembered_lines_unless_shared(
    caller: Caller, share: bool, carried: bool
) -> None:
    backends = three()
    brain = brain_with(backends, load_settings(share_memory=share))
    brain.context = _Remembered()
    answer = asyncio.run(brain.ask("what was planted?", caller=caller))
    sent = " ".join(m["content"] for b in backends.values() for m in b.history[0].messages)
    assert ("the planted line 7731" in sent) is carried
    context = answer.memory.get("context")
    if caller.is_origin:
        assert context == [{"day": "day0101", "part": 1, "line": 2, "speaker": "origin",
                            "date": None, "text": "the planted line 7731"}]
    else:
        assert context is None
