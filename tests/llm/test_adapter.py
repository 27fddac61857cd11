"""A LoRA adapter on the demo GGUF, for real: llama-cpp-python loads it, the answer changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.lora_fixture import write_lora
from llm.adapter import check_adapter, read_adapter_header
from llm.backend import BackendError, Generation
from llm.config import LlamaConfig
from llm.fingerprint import model_fingerprint
from llm.llama_backend import LlamaBackend

MODELS = Path(os.environ.get("ECHO_MODELS_DIR", Path(__file__).resolve().parents[2] / "models"))
DEMO = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
PERSONA = "You are a calm assistant who answers in one sentence. 당신은 차분한 도우미입니다."
STRONG = {"layers": (0, 1, 2, 3), "b_std": 0.5}  # large enough to change a greedy answer


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DEMO.is_file():
        pytest.fail(f"demo model missing at {DEMO}: run scripts/setup.sh")
    return write_lora(tmp_path_factory.mktemp("lora") / "self.gguf", DEMO, **STRONG)  # type: ignore[arg-type]


def answer(lora: Path | None = None, scale: float = 1.0, prefixes: bool = True) -> str:
    config = LlamaConfig(str(DEMO), n_ctx=512, n_threads=1, n_threads_batch=1,
                         prefixes=[PERSONA] if prefixes else [],
                         lora_path=str(lora) if lora else None, lora_scale=scale)
    backend = LlamaBackend(config)
    backend.load()
    try:
        gen = Generation([{"role": "system", "content": PERSONA},
                          {"role": "user", "content": "What is the capital of France?"}],
                         max_tokens=12, temperature=0.0, origin=True, audience="origin")
        text = "".join(backend.stream(gen))
        if prefixes:  # the warm prefix was evaluated at load and reused by the request
            assert backend.warmup_s is not None and gen.usage["cached_tokens"] > 10
        return text
    finally:
        backend.close()


@pytest.fixture(scope="module")
def base_answer() -> str:
    return answer()


def test_the_helper_writes_the_header_llama_cpp_and_the_server_read(adapter: Path) -> None:
    header = read_adapter_header(adapter)
    assert (header.general_type, header.adapter_type, header.architecture) == (
        "adapter", "lora", "llama")
    assert header.rank == 4 and header.alpha == 8.0 and header.pairs == 8
    assert header.base_fingerprint == model_fingerprint(DEMO) and header.base_file == DEMO.name


def test_an_adapter_changes_the_greedy_answer(adapter: Path, base_answer: str) -> None:
    with_adapter = answer(adapter)
    assert with_adapter and with_adapter != base_answer


def test_scale_zero_is_the_base_model(adapter: Path, base_answer: str) -> None:
    assert answer(adapter, scale=0.0) == base_answer


def test_the_warm_prefix_is_evaluated_with_the_adapter(adapter: Path) -> None:
    """A prefix warmed before the adapter applied would give another answer than a cold run."""
    assert answer(adapter, prefixes=True) == answer(adapter, prefixes=False)


def test_it_matches_llama_cpp_pythons_own_lora_path(adapter: Path) -> None:
    """Attaching through llama.cpp's calls (mmap kept) = `Llama(lora_path=...)`."""
    from llama_cpp import Llama

    backend = LlamaBackend(LlamaConfig(str(DEMO), n_ctx=256, n_threads=1, lora_path=str(adapter)))
    backend.load()
    reference = Llama(model_path=str(DEMO), n_ctx=256, n_threads=1, verbose=False,
                      lora_path=str(adapter))
    try:
        assert backend._live is not None
        backend._live.set_adapted(True)  # what the origin's requests get (others: the base)
        ours = backend._llama.create_completion("The capital of France is", max_tokens=10,
                                                temperature=0)
        theirs = reference.create_completion("The capital of France is", max_tokens=10,
                                             temperature=0)
        assert ours["choices"][0]["text"] == theirs["choices"][0]["text"]
    finally:
        backend.close()
        reference.close()


def test_the_adapter_document_names_file_scale_and_fingerprints(adapter: Path) -> None:
    doc = check_adapter(adapter, DEMO, 0.5)
    assert doc["file"] == "self.gguf" and doc["scale"] == 0.5 and doc["rank"] == 4
    assert doc["base_fingerprint"] == doc["model_fingerprint"] == model_fingerprint(DEMO)
    assert doc["matches"] is True and doc["warning"] is None


def load_error(lora: Path) -> str:
    backend = LlamaBackend(LlamaConfig(str(DEMO), n_ctx=256, n_threads=1, lora_path=str(lora)))
    with pytest.raises(BackendError) as caught:
        backend.load()
    assert backend._llama is None  # nothing stays loaded
    return str(caught.value)


def test_an_adapter_for_another_base_is_refused(tmp_path: Path) -> None:
    other = write_lora(tmp_path / "other.gguf", DEMO, fingerprint="ab" * 32)
    message = load_error(other)
    assert "made for another base model" in message and "abababababab" in message
    assert DEMO.name in message and "다른 기반 모델" in message


def test_a_model_given_as_adapter_is_refused(tmp_path: Path) -> None:
    message = load_error(DEMO)
    assert "is not a LoRA adapter" in message and "LoRA 어댑터가 아닙니다" in message
    kind = write_lora(tmp_path / "cvec.gguf", DEMO, adapter_type="control_vector")
    assert "adapter.type=control_vector" in load_error(kind)


def test_garbage_and_missing_files_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all" * 10)
    assert "not a valid GGUF file" in load_error(junk)
    assert "LoRA adapter not found" in load_error(tmp_path / "missing.gguf")


def test_an_adapter_without_fingerprint_loads_with_a_warning(tmp_path: Path) -> None:
    plain = write_lora(tmp_path / "converted.gguf", DEMO, fingerprint=None)
    doc = check_adapter(plain, DEMO, 1.0)
    assert doc["matches"] is None and doc["base_fingerprint"] is None
    assert "echo.base.fingerprint" in doc["warning"] and "지문" in doc["warning"]
    assert answer(plain)  # llama.cpp accepts it: names and shapes fit


def test_llama_cpp_refusals_are_reported_not_crashes(tmp_path: Path) -> None:
    wrong_arch = write_lora(tmp_path / "arch.gguf", DEMO, fingerprint=None, architecture="gpt2")
    assert "gpt2 architecture" in load_error(wrong_arch)
    # the right header, but tensors shaped for another model: refused with the tensor's name
    bad_shape = tmp_path / "shape.gguf"
    _write_misshaped(bad_shape)
    message = load_error(bad_shape)
    assert "shape.gguf does not fit" in message and "blk.0.attn_q.weight: A [100, 4]" in message
    assert "[576, 576]" in message and "맞지 않습니다" in message


def test_llama_cpp_has_the_last_word_on_what_the_check_lets_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llm.adapter

    bad_shape = tmp_path / "shape.gguf"
    _write_misshaped(bad_shape)
    monkeypatch.setattr(llm.adapter, "misfit", lambda header, model: None)
    assert "llama.cpp could not load shape.gguf" in load_error(bad_shape)


def _write_misshaped(path: Path) -> None:
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), "llama")
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 8.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, 100), np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((100, 4), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_the_worker_process_serves_the_adapter(adapter: Path, base_answer: str) -> None:
    from llm.process_backend import ProcessBackend

    config = LlamaConfig(str(DEMO), n_ctx=512, n_threads=1, n_threads_batch=1, prefixes=[PERSONA],
                         lora_path=str(adapter))
    backend = ProcessBackend(config)
    backend.load()
    try:
        gen = Generation([{"role": "system", "content": PERSONA},
                          {"role": "user", "content": "What is the capital of France?"}],
                         max_tokens=12, temperature=0.0, origin=True, audience="origin")
        served = "".join(backend.stream(gen))
        assert backend.adapter is not None and backend.adapter["matches"] is True
        assert backend.describe() == f"llama:{DEMO.name}+lora:self.gguf"
    finally:
        backend.close()
    assert served == answer(adapter) != base_answer
