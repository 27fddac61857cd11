"""Circuit logic with a fake backend: serialization, queue bound, deadline, states."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from llm.backend import Generation, QueueFull, WorkerDied
from llm.circuit import Circuit, CircuitResult
from tests.fakes import FakeBackend


def gen(text: str = "hi") -> Generation:
    return Generation([{"role": "user", "content": text}], max_tokens=16)


def loaded(backend: FakeBackend, **kwargs: float) -> Circuit:
    circuit = Circuit("self", "persona", lambda: backend, **kwargs)  # type: ignore[arg-type]
    circuit.load()
    return circuit


def test_failed_load_keeps_the_reason() -> None:
    circuit = Circuit("emotion", "p", lambda: FakeBackend(fail_load="no such file"))
    circuit.load()
    assert circuit.state == "failed"
    assert circuit.snapshot() == {
        "state": "failed",
        "error": "no such file",
        "pid": None,
        "restarts": 0,
        "last_exit": None,
        "warmup_s": None,
        "load_s": None,
    }


def test_one_circuit_runs_its_calls_one_at_a_time() -> None:
    backend = FakeBackend(delay=0.01)
    circuit = loaded(backend)

    async def main() -> list[str]:
        tickets = [circuit.open(gen(str(i))) for i in range(4)]
        return [r.text for r in await asyncio.gather(*(t.result() for t in tickets))]

    backend.enqueue("a b", "c d", "e f", "g h")
    assert asyncio.run(main()) == ["a b", "c d", "e f", "g h"]
    assert backend.max_active == 1
    circuit.close()


def test_full_queue_raises_busy_with_retry_after() -> None:
    circuit = loaded(FakeBackend(delay=0.05), queue_size=1)

    async def main() -> None:
        first = circuit.open(gen())
        await asyncio.sleep(0.02)  # the worker takes the first job
        second = circuit.open(gen())
        with pytest.raises(QueueFull) as info:
            circuit.open(gen())
        assert info.value.size == 1
        await asyncio.gather(first.result(), second.result())

    asyncio.run(main())
    circuit.close()


def test_deadline_reports_timeout_and_frees_the_circuit() -> None:
    backend = FakeBackend(delay=0.05)
    circuit = loaded(backend, timeout_s=0.12)
    backend.enqueue(" ".join(["w"] * 100), "quick")

    async def main() -> tuple[str, str]:
        slow = await circuit.open(gen()).result()
        fast = await circuit.open(gen()).result()
        return slow.status, fast.status

    assert asyncio.run(main()) == ("timeout", "ok")
    circuit.close()


def test_deltas_arrive_before_the_result() -> None:
    backend = FakeBackend(delay=0.01)
    circuit = loaded(backend)
    backend.enqueue("one two three")
    seen: list[tuple[str, str]] = []

    async def on_delta(name: str, text: str) -> None:
        seen.append((name, text))

    async def main() -> str:
        return (await circuit.open(gen()).result(on_delta)).text

    assert asyncio.run(main()) == "one two three"
    assert seen == [("self", "one "), ("self", "two "), ("self", "three ")]
    circuit.close()


class DiesUnderEveryRequest(FakeBackend):
    """Loads fine, then its 'worker' dies under each request (logic only; the real process
    deaths are in test_worker_process.py)."""

    loads = 0

    def load(self) -> None:
        DiesUnderEveryRequest.loads += 1

    def stream(self, gen: Generation) -> Iterator[str]:
        raise WorkerDied("SIGSEGV")
        yield ""


def test_a_worker_dying_under_every_request_ends_failed_after_five() -> None:
    circuit = Circuit("self", "p", DiesUnderEveryRequest, backoff_s=0.001)
    circuit.load()

    async def ask() -> CircuitResult:
        return await circuit.open(gen()).result()

    errors = []
    for _ in range(5):
        deadline = time.monotonic() + 5
        while circuit.state == "loading" and time.monotonic() < deadline:
            time.sleep(0.005)
        errors.append(asyncio.run(ask()))
    deadline = time.monotonic() + 5
    while circuit.state == "loading" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert all(r.status == "error" and "SIGSEGV" in (r.error or "") for r in errors)
    assert circuit.state == "failed" and "5 times in a row" in (circuit.error or "")
    assert circuit.restarts == 4 and DiesUnderEveryRequest.loads == 5
    circuit.close()
