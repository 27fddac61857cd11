"""The orchestrator says who asks, and keeps origin-only circuits for the origin (fake backends)."""

from __future__ import annotations

import asyncio

import pytest

from core.echo_brain import AskOptions, EchoBrain
from core.errors import Forbidden
from core.origin import ANONYMOUS_CALLER, ORIGIN_CALLER, guest
from core.settings import CIRCUIT_NAMES, Settings, load_settings
from llm.circuit import Circuit
from tests.fakes import FakeBackend


def brain(settings: Settings, backends: dict[str, FakeBackend]) -> EchoBrain:
    circuits = {
        name: Circuit(name, f"persona of {name}", (lambda b=b: b),
                      origin_only=settings.origin_only(name))
        for name, b in backends.items()
    }
    for circuit in circuits.values():
        circuit.load()
    return EchoBrain(settings, circuits)


def three() -> dict[str, FakeBackend]:
    return {name: FakeBackend() for name in CIRCUIT_NAMES}


def test_every_generation_says_whether_the_origin_asks_and_who() -> None:
    backends = three()
    echo = brain(load_settings(), backends)
    for caller in (ORIGIN_CALLER, guest("ana"), ANONYMOUS_CALLER):
        asyncio.run(echo.ask("hello", caller=caller))
    seen = [(g.origin, g.audience) for g in backends["self"].history]
    assert seen == [(True, "origin"), (False, "ana"), (False, None)]


def test_an_origin_only_circuit_is_unavailable_to_others_and_skipped_in_the_synthesis() -> None:
    backends = three()
    echo = brain(load_settings(self_origin_only=True, merge="synthesize"), backends)
    answer = asyncio.run(echo.ask("hello", caller=guest("ana")))
    assert backends["self"].history == []  # never asked: not for the drafts, not to synthesize
    result = answer.circuits["self"]
    assert result.status == "unavailable" and "origin only" in (result.error or "")
    assert {answer.circuits[n].status for n in ("emotion", "creation")} == {"ok"}
    asyncio.run(echo.ask("hello", caller=ORIGIN_CALLER))
    assert len(backends["self"].history) == 2  # the origin's draft and its synthesis


def test_a_request_naming_only_origin_only_circuits_is_forbidden_to_others() -> None:
    echo = brain(load_settings(self_origin_only=True), three())
    with pytest.raises(Forbidden) as refused:
        asyncio.run(echo.fan_out("hello", AskOptions(names=("self",)), caller=guest("ana")))
    assert "오리진" in refused.value.message_ko
    results = asyncio.run(echo.fan_out("hello", AskOptions(names=("self",)),
                                       caller=ORIGIN_CALLER))
    assert results["self"].status == "ok"
