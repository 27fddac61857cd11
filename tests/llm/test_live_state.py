"""Per caller, on the real demo model: the adapter for the origin only, no KV state shared."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.lora_fixture import write_lora
from llm.backend import Generation
from llm.config import LlamaConfig
from llm.live_state import reusable
from llm.llama_backend import LlamaBackend

MODELS = Path(os.environ.get("ECHO_MODELS_DIR", Path(__file__).resolve().parents[2] / "models"))
DEMO = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
PERSONA = "You are a calm assistant who answers in one sentence. 당신은 차분한 도우미입니다."
QUESTION = "What is the capital of France? My secret word is heliotrope."
TUNED = {"layers": (0, 1, 2, 3), "b_std": 0.2}  # changes the greedy answer, still words


def make(lora: Path | None = None, prefixes: bool = True,
         cache: Path | None = None) -> LlamaBackend:
    backend = LlamaBackend(LlamaConfig(
        str(DEMO), n_ctx=512, n_threads=1, n_threads_batch=1,
        prefixes=[PERSONA] if prefixes else [], lora_path=str(lora) if lora else None,
        cache_dir=str(cache) if cache else None))
    backend.load()
    return backend


def ask(backend: LlamaBackend, who: str | None, question: str = QUESTION) -> tuple[str, int]:
    """Greedy answer and the prompt tokens reused from the KV state, for caller `who`."""
    gen = Generation([{"role": "system", "content": PERSONA},
                      {"role": "user", "content": question}],
                     max_tokens=8, temperature=0.0, origin=who == "origin", audience=who)
    return "".join(backend.stream(gen)), gen.usage["cached_tokens"]


def static_tokens(backend: LlamaBackend) -> int:
    """Tokens of the warm static prefix (what every caller may reuse)."""
    assert backend.prefix is not None
    return max(p["tokens"] for p in backend.prefix["prefixes"])


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lora(tmp_path_factory.mktemp("lora") / "self.gguf", DEMO, **TUNED)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def references(adapter: Path) -> dict[str, str]:
    """Cold answers, nothing warm, nothing switched: the base model and the adapted one."""
    out = {}
    for name, lora in (("base", None), ("adapted", adapter)):
        backend = make(lora, prefixes=False)
        try:
            out[name] = ask(backend, "origin")[0]
        finally:
            backend.close()
    assert out["base"].strip() and out["adapted"].strip() and out["base"] != out["adapted"]
    return out


@pytest.fixture(scope="module")
def served(adapter: Path) -> Iterator[LlamaBackend]:
    backend = make(adapter)
    yield backend
    backend.close()


def test_the_origin_gets_the_adapter_and_a_guest_the_base_both_warm(
    served: LlamaBackend, references: dict[str, str]
) -> None:
    static = static_tokens(served)
    assert [e["adapter"] for e in served.prefix["prefixes"]] == [False, True]  # type: ignore[index]
    for who in ("origin", "ana", "origin", "ana", "anonymous-is-None", "origin"):
        caller = None if who.startswith("anonymous") else who
        text, cached = ask(served, caller)
        assert text == references["adapted" if who == "origin" else "base"], who
        assert cached >= static > 10, (who, cached)  # its own warm prefix, not evaluated again


def test_a_caller_reuses_no_more_than_the_static_prefix_of_another_callers_state(
    served: LlamaBackend,
) -> None:
    static = static_tokens(served)
    ask(served, "origin")
    assert ask(served, "origin")[1] > static + 5  # the same caller reuses its whole prompt
    assert ask(served, "ana")[1] <= static  # the origin's words stay the origin's
    assert ask(served, "ana")[1] > static + 5
    assert ask(served, "bob")[1] <= static  # nor one guest's for another
    assert ask(served, None)[1] <= static  # anonymous callers are never the same one
    assert ask(served, None)[1] <= static
    assert ask(served, "origin")[1] <= static


def test_without_an_adapter_the_state_is_cut_back_to_the_static_prefix(
    references: dict[str, str],
) -> None:
    backend = make()
    try:
        static = static_tokens(backend)
        assert ask(backend, "origin") == (references["base"], static)
        text, cached = ask(backend, "origin")
        assert cached > static + 5 and text == references["base"]
        assert ask(backend, "ana") == (references["base"], static)  # cut back, then the same
    finally:
        backend.close()


def test_both_settings_are_cached_on_disk_and_restored(
    adapter: Path, references: dict[str, str], tmp_path: Path
) -> None:
    make(adapter, cache=tmp_path).close()
    assert len(list(tmp_path.glob("*.kvstate"))) == 2  # with and without the adapter
    backend = make(adapter, cache=tmp_path)
    try:
        prefix = backend.prefix
        assert prefix is not None and prefix["source"] == "restored"
        assert ask(backend, "ana")[0] == references["base"]
        assert ask(backend, "origin")[0] == references["adapted"]
    finally:
        backend.close()


def test_reuse_rules() -> None:
    live, prompt, static = [1, 2, 3, 4, 5], [1, 2, 3, 4, 9], [[1, 2, 7]]
    assert reusable(live, prompt, static, same_mode=True, same_caller=True) == 4
    assert reusable(live, prompt, static, same_mode=True, same_caller=False) == 2
    assert reusable(live, prompt, static, same_mode=False, same_caller=True) == 0
    assert reusable(live, prompt, [], same_mode=True, same_caller=False) == 0
