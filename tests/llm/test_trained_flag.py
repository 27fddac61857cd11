"""A GGUF that says it learned from the memory makes its circuit answer the origin only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter, TokenType

from benchmarks.tune_fixture import llama_tensors
from llm.backend import TRAINED_ON_MEMORY_KEY, Generation
from llm.circuit import Circuit
from llm.config import LlamaConfig
from llm.llama_backend import LlamaBackend
from llm.process_backend import ProcessBackend


def write_nano(path: Path, flagged: bool) -> Path:
    """A 1-layer random llama GGUF with a byte-level vocabulary (written in milliseconds)."""
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    writer = GGUFWriter(str(path), "llama")
    for add, value in ((writer.add_block_count, 1), (writer.add_context_length, 256),
                       (writer.add_embedding_length, 32), (writer.add_feed_forward_length, 64),
                       (writer.add_head_count, 2), (writer.add_head_count_kv, 2),
                       (writer.add_rope_dimension_count, 16)):
        add(value)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    if flagged:
        writer.add_bool(TRAINED_ON_MEMORY_KEY, True)
    rng = np.random.default_rng(0)
    for name, shape in llama_tensors(32, 1, 2, 2, 64, len(tokens)):
        writer.add_tensor(name, rng.standard_normal(shape).astype(np.float32) * 0.1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("flagged", [True, False])
def test_the_worker_reads_the_flag_and_the_circuit_keeps_it(tmp_path: Path, flagged: bool) -> None:
    config = LlamaConfig(str(write_nano(tmp_path / "nano.gguf", flagged)), n_ctx=128,
                         n_threads=1, n_threads_batch=1)
    circuit = Circuit("self", "persona", lambda: ProcessBackend(config))
    assert not circuit.origin_only  # not set so, and nothing loaded yet
    circuit.load()
    try:
        assert circuit.ready, circuit.error
        assert circuit.origin_only is flagged and circuit.serves(is_origin=True)
        assert circuit.serves(is_origin=False) is not flagged
        assert circuit.snapshot().get("origin_only", False) is flagged
    finally:
        circuit.close()


def test_without_a_chat_template_nothing_is_shared_between_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No template, no static prefix: another caller starts from an empty KV state."""
    backend = LlamaBackend(LlamaConfig(str(write_nano(tmp_path / "nano.gguf", True)), n_ctx=128,
                                       n_threads=1, n_threads_batch=1))
    backend.load()
    live: list[int] = []  # the tokens the KV state holds when each request starts
    chat = backend._stream_chat

    def seen(gen: Generation) -> Iterator[str]:
        live.append(backend._llama.n_tokens)
        return chat(gen)

    monkeypatch.setattr(backend, "_stream_chat", seen)
    try:
        for who in ("origin", "origin", "ana", "ana", None, None):
            gen = Generation([{"role": "user", "content": "hello there"}], max_tokens=3,
                             temperature=0.0, origin=who == "origin", audience=who)
            "".join(backend.stream(gen))
    finally:
        backend.close()
    assert live[0] == 0 and live[1] > 0  # the origin's own state stays for the origin
    assert live[2] == 0 and live[3] > 0  # a guest after the origin: nothing
    assert live[4] == live[5] == 0  # anonymous callers are never the same one
