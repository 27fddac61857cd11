"""Parity: the PyTorch model with an adapter gives llama.cpp's logits with that adapter.

Tolerance. The comparison runs on the demo model's float32 copy (every Q4_1 block dequantized
by gguf-py, bit for bit what the trainer computes: test_model checks that) with llama.cpp's KV
cache in float32, so both sides compute the same float32 function and differ only in the
order of summation: measured 1e-4 at most on logits of magnitude ~10; TOL = 1e-3 leaves ten
times that. On the Q4_1 file itself llama.cpp quantizes each activation to 8 bits before a
Q4_1 dot product (ggml's q4_1·q8_1 kernel), which moves logits by up to ~1.5: a comparison
there could not tell a wrong RoPE from rounding, so the exact one is made where it can be.
The adapter's effect (max |Δlogit| > 0.5) is 500 × TOL, and each wrong variant (scale, RoPE
layout, A/B orientation) misses by more than 50 × TOL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tune import model as model_module
from tune.adapter import AdapterInfo, read_adapter, write_adapter
from tune.model import LlamaLoRA
from tune.weights import open_weights

TOL = 1e-3
RANK, ALPHA, SCALE = 8, 16.0, 0.7
TEXT = "<|im_start|>user\n오늘 기분 어때? How are you?<|im_end|>\n<|im_start|>assistant\nI am"


def llama_logits(model: Path, ids: list[int], lora: Path | None = None,
                 scale: float = 1.0) -> np.ndarray:
    """llama.cpp's logits for every position, float32 KV cache."""
    from llama_cpp import Llama

    llama = Llama(model_path=str(model), n_ctx=128, logits_all=True, n_threads=2, verbose=False,
                  type_k=0, type_v=0, lora_path=str(lora) if lora else None, lora_scale=scale)
    try:
        llama.eval(ids)
        return np.array(llama.scores[: len(ids)], dtype=np.float64)
    finally:
        llama.close()


def torch_logits(model: LlamaLoRA, ids: list[int], scale: float) -> np.ndarray:
    """The PyTorch model's logits with every adapter at alpha/rank · scale."""
    for adapter in model.adapters.values():
        adapter.scale = model.alpha / model.rank * scale
    with torch.no_grad():
        return model(torch.tensor([ids])).double().numpy()[0]


@pytest.fixture(scope="module")
def setup(demo_f32: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The float32 demo model, a random adapter with non-zero B, the token ids."""
    from llama_cpp import Llama

    vocab = Llama(model_path=str(demo_f32), vocab_only=True, verbose=False)
    ids = list(vocab.tokenize(TEXT.encode(), add_bos=False, special=True))
    vocab.close()
    torch.manual_seed(0)
    model = LlamaLoRA(open_weights(demo_f32, torch.device("cpu"), 4.0), RANK, ALPHA)
    for adapter in model.adapters.values():
        torch.nn.init.normal_(adapter.b, std=0.02)
    folder = tmp_path_factory.mktemp("adapter")
    info = AdapterInfo("llama", ALPHA, "test", demo_f32.name)
    write_adapter(folder / "a.gguf", info, model.pairs(), "parity")
    yield {"model": model, "ids": ids, "adapter": folder / "a.gguf", "folder": folder,
           "base": llama_logits(demo_f32, ids), "path": demo_f32}


def test_base_logits_match(setup: dict) -> None:
    assert np.abs(torch_logits(setup["model"], setup["ids"], 0.0) - setup["base"]).max() < TOL


def test_adapter_logits_match_and_matter(setup: dict) -> None:
    theirs = llama_logits(setup["path"], setup["ids"], setup["adapter"], SCALE)
    ours = torch_logits(setup["model"], setup["ids"], SCALE)
    assert np.abs(theirs - setup["base"]).max() > 500 * TOL  # the adapter changes the logits
    assert np.abs(ours - theirs).max() < TOL


def test_scale_zero_is_the_base(setup: dict) -> None:
    theirs = llama_logits(setup["path"], setup["ids"], setup["adapter"], 0.0)
    assert np.abs(theirs - setup["base"]).max() < 1e-5
    assert np.abs(torch_logits(setup["model"], setup["ids"], 0.0) - theirs).max() < TOL


def test_a_wrong_scale_fails(setup: dict) -> None:
    theirs = llama_logits(setup["path"], setup["ids"], setup["adapter"], SCALE)
    for wrong in (SCALE * RANK, SCALE / RANK * ALPHA, 1.0):  # alpha alone, no alpha, no scale
        assert np.abs(torch_logits(setup["model"], setup["ids"], wrong) - theirs).max() > 50 * TOL


def test_a_wrong_rope_layout_fails(setup: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def rotate_half(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=-1)  # the Hugging Face layout on GGUF-permuted rows
        c, s = torch.cat((cos, cos), -1)[:, None, :], torch.cat((sin, sin), -1)[:, None, :]
        return x * c + torch.cat((-second, first), dim=-1) * s

    monkeypatch.setattr(model_module, "apply_rope", rotate_half)
    ours = torch_logits(setup["model"], setup["ids"], 0.0)
    assert np.abs(ours - setup["base"]).max() > 50 * TOL


def test_a_wrong_orientation_fails(setup: dict) -> None:
    """A and B written transposed and swapped: llama.cpp refuses, or computes another thing."""
    info, pairs = read_adapter(setup["adapter"])
    square = {k: (b.T.copy(), a.T.copy()) for k, (a, b) in pairs.items()
              if k.endswith(("attn_q.weight", "attn_output.weight"))}
    write_adapter(setup["folder"] / "swapped.gguf", info, square, "swapped")
    kept = {k: v for k, v in pairs.items() if k in square}
    write_adapter(setup["folder"] / "square.gguf", info, kept, "square")
    swapped = llama_logits(setup["path"], setup["ids"], setup["folder"] / "swapped.gguf", SCALE)
    right = llama_logits(setup["path"], setup["ids"], setup["folder"] / "square.gguf", SCALE)
    assert np.abs(swapped - right).max() > 50 * TOL
    transposed = {k: (a.T.copy(), b.T.copy()) for k, (a, b) in pairs.items()
                  if k.endswith("attn_k.weight")}  # non-square: llama.cpp's shape check fails
    write_adapter(setup["folder"] / "bad.gguf", info, transposed, "bad")
    script = ("import sys; from llama_cpp import Llama; "
              "Llama(model_path=sys.argv[1], n_ctx=64, lora_path=sys.argv[2], verbose=True)")
    done = subprocess.run([sys.executable, "-c", script, str(setup["path"]),
                           str(setup["folder"] / "bad.gguf")], capture_output=True, text=True,
                          timeout=300, check=False)
    # llama-cpp-python 0.3.36 goes on with a dangling adapter after this (a later eval crashes)
    assert "blk.0.attn_k.weight' has incorrect shape" in done.stderr


def test_the_quantized_file_agrees_within_activation_rounding(demo_model: Path,
                                                              setup: dict) -> None:
    """On Q4_1 itself: same weights, llama.cpp's 8-bit activations; the top token agrees."""
    model = LlamaLoRA(open_weights(demo_model, torch.device("cpu"), 4.0), RANK, ALPHA)
    ours = torch_logits(model, setup["ids"], 0.0)
    theirs = llama_logits(demo_model, setup["ids"])
    assert np.abs(ours - theirs).mean() < 0.5
    assert (ours.argmax(1) == theirs.argmax(1)).mean() >= 0.85
