"""The exported GGUF through real llama-cpp-python gives PyTorch's logits and tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from llama_cpp import Llama

from origin_model import export
from origin_model.config import ModelConfig
from origin_model.evaluate import llama_logits
from origin_model.export import export_model, export_paths, load_pth
from origin_model.model import Transformer
from origin_model.tokenizer import CHAT_TEMPLATE, ChatEncoder, load_tokenizer
from tests.origin_model.conftest import TrainedRun

F32 = 0  # GGML_TYPE_F32
LINES = [
    "안녕하세요, 오리진! 오늘 기억을 복기했어요.",
    "에코브레인은 ‘혼의 자아 루프 센터’다. 자기 정체성 + 감정 + 창조",
    "Hello world, this is the origin's own model speaking.",
    "Mixed 한국어 and English in one line: RunPod zip 배포",
    "emoji 😀🚀🔥✅ and 한글 ㅋㅋㅋㅋ",
    "  two leading spaces,\ttabs\tand  double  spaces  ",
    "code: def echo_brain(prompt): return merge(replies)  # 123456",
    "rare: ünïcödé ñ 中文 العربية 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \x07 bell",
]


def llama(path: Path, n_ctx: int = 256) -> Llama:
    """A real llama.cpp context with logits for every position (F32 KV cache, like PyTorch)."""
    return Llama(model_path=str(path), n_ctx=n_ctx, logits_all=True, n_threads=1,
                 type_k=F32, type_v=F32, verbose=False)


def compare(model: Transformer, gguf: Path, ids: list[int]) -> tuple[float, float]:
    """(argmax agreement, max |logit difference|) of PyTorch and llama.cpp on the same ids."""
    with torch.no_grad():
        ref = model.eval()(torch.tensor([ids]))[0].double().numpy()
    engine = llama(gguf)
    try:
        got = llama_logits(engine, ids)
    finally:
        engine.close()
    return float((ref.argmax(1) == got.argmax(1)).mean()), float(np.abs(ref - got).max())


def sharp_model(vocab: int) -> Transformer:
    """An untrained model with large weights: varied, confident logits that expose layout bugs."""
    torch.manual_seed(7)
    model = Transformer(ModelConfig(vocab, dim=64, n_layers=2, n_heads=2, hidden_dim=96))
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0, 0.35)
    return model


def test_trained_model_logits_match_llama_cpp(trained: TrainedRun) -> None:
    model = load_pth(trained.out / "origin-nano.pth")
    ids = np.fromfile(trained.out / "data" / "val.bin", dtype=np.uint16)[:256].tolist()
    agreement, max_diff = compare(model, trained.out / "origin-nano.gguf", ids)
    assert agreement >= 0.99
    assert max_diff < 1e-3


@pytest.mark.parametrize("permuted", [True, False])
def test_qk_permutation_is_what_makes_logits_match(
    trained: TrainedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permuted: bool
) -> None:
    sp = load_tokenizer(trained.out / "tokenizer.model")
    model = sharp_model(sp.get_piece_size())
    if not permuted:  # the classic bug: Q/K rows left in PyTorch's rotate-half layout
        monkeypatch.setattr(export, "permute_rope", lambda weight, n_heads: weight)
    paths = export_paths(tmp_path, "sharp")
    export_model(model, trained.out / "tokenizer.model", paths, "sharp")
    ids = ChatEncoder(sp).encode([("user", line, i == 0) for i, line in enumerate(LINES)])[:200]
    agreement, max_diff = compare(model, paths.gguf, ids)
    if permuted:
        assert agreement >= 0.99 and max_diff < 1e-2
    else:
        assert agreement < 0.9


def test_sentencepiece_and_llama_cpp_give_the_same_ids(trained: TrainedRun) -> None:
    sp = load_tokenizer(trained.out / "tokenizer.model")
    engine = llama(trained.out / "origin-nano.gguf")
    try:
        for line in LINES:
            ids = list(sp.encode(line))
            assert engine.tokenize(line.encode(), add_bos=False, special=False) == ids, line
            assert sp.decode(ids) == line  # byte fallback: every character round-trips
            assert engine.detokenize(ids).decode() == line
    finally:
        engine.close()


def test_chat_template_matches_the_training_format(trained: TrainedRun) -> None:
    sp = load_tokenizer(trained.out / "tokenizer.model")
    engine = llama(trained.out / "origin-nano.gguf")
    try:
        assert engine.metadata["tokenizer.chat_template"] == CHAT_TEMPLATE
        assert engine.metadata["tokenizer.ggml.add_space_prefix"] == "false"
        turns = [("user", LINES[0], True), ("assistant", LINES[2], False)]
        rendered = "<s>" + "".join(f"<|im_start|>{r}\n{t}<|im_end|>\n" for r, t, _ in turns)
        ids = engine.tokenize(rendered.encode(), add_bos=False, special=True)
        assert ids == ChatEncoder(sp).encode(turns)
    finally:
        engine.close()


def test_gguf_bits_per_byte_agrees_with_pytorch(trained: TrainedRun) -> None:
    from origin_model.evaluate import gguf_bits_per_byte
    from origin_model.tokenizer import turn_text

    text = "".join(turn_text("user", line, i == 0) for i, line in enumerate(LINES))
    ids = ChatEncoder(load_tokenizer(trained.out / "tokenizer.model")).encode(
        [("user", line, i == 0) for i, line in enumerate(LINES)])
    model = load_pth(trained.out / "origin-nano.pth").eval()
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids]))[0].double(), dim=-1)
    nats = -float(logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum())
    got = gguf_bits_per_byte(trained.out / "origin-nano.gguf", text, n_threads=1)
    assert got["tokens"] == len(ids) and got["predicted"] == len(ids) - 1
    assert abs(got["bits_per_byte"] - nats / np.log(2) / len(text.encode())) < 1e-3
