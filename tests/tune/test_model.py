"""Weights: dequantization as gguf-py's reference, streamed = kept, architectures refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Q
from gguf import quants

from benchmarks.tune_fixture import write_llama_gguf
from trainkit.errors import TuneError
from tune.dequant import dequantize
from tune.model import LlamaLoRA
from tune.weights import GGUFWeights, open_weights


@pytest.mark.parametrize("kind", [Q.Q4_0, Q.Q4_1, Q.Q8_0, Q.Q5_0, Q.F16, Q.BF16])
def test_dequantize_matches_gguf_reference(kind: Q) -> None:
    values = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    packed = quants.quantize(values, kind) if kind not in (Q.F16,) else values.astype(np.float16)
    ours = dequantize(packed, kind, 8, 64).numpy()
    np.testing.assert_array_equal(ours, quants.dequantize(packed, kind).reshape(8, 64))
    assert np.abs(ours - values).max() < 0.3  # and it is the matrix that was packed


def _loss_and_grads(weights: GGUFWeights) -> tuple[float, list[torch.Tensor], np.ndarray]:
    torch.manual_seed(0)
    model = LlamaLoRA(weights, rank=4, alpha=8)
    for adapter in model.adapters.values():
        torch.nn.init.normal_(adapter.b, std=0.05)
    ids = torch.randint(0, weights.shape.vocab, (2, 24), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    total, count = model.loss_sum(ids[:, :-1], ids[:, 1:], mask[:, 1:])
    total.backward()
    grads = [p.grad.clone() for p in model.adapters.parameters()]  # type: ignore[union-attr]
    with torch.no_grad():
        logits = model(ids).numpy()
    return float(total.detach()) / count, grads, logits


def test_streamed_layers_equal_kept_ones(tiny_model: Path) -> None:
    """Above the budget each matrix is unpacked in forward and again in backward: same math."""
    kept = open_weights(tiny_model, torch.device("cpu"), ram_gb=4.0)
    streamed = open_weights(tiny_model, torch.device("cpu"), ram_gb=0.5)
    streamed.resident = False  # the tiny model fits any budget: force the streamed path
    assert kept.resident
    loss_a, grads_a, logits_a = _loss_and_grads(kept)
    loss_b, grads_b, logits_b = _loss_and_grads(streamed)
    assert abs(loss_a - loss_b) < 1e-5
    np.testing.assert_allclose(logits_a, logits_b, atol=1e-4)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert streamed.dequant_s > 0 and not streamed._cache.get("blk.0.attn_q.weight")


def test_the_budget_decides_what_is_kept(tiny_model: Path, demo_model: Path) -> None:
    assert open_weights(demo_model, torch.device("cpu"), ram_gb=4.0).resident
    assert not open_weights(demo_model, torch.device("cpu"), ram_gb=1.5).resident


def test_other_architectures_are_refused(demo_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "gpt2.gguf"
    write_llama_gguf(path, demo_model, dim=32, layers=1, heads=2, kv_heads=2, hidden=64,
                     architecture="gpt2")
    with pytest.raises(TuneError) as caught:
        open_weights(path, torch.device("cpu"), 4.0)
    assert "'gpt2'" in caught.value.message and "구조" in caught.value.message_ko


def test_a_corrupt_file_is_refused(demo_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(demo_model.read_bytes()[: 3 << 20])
    with pytest.raises(TuneError) as caught:
        open_weights(path, torch.device("cpu"), 4.0)
    assert "not a readable GGUF" in caught.value.message


def test_micro_batches_give_the_whole_batch_update(tiny_model: Path) -> None:
    """Activations for one micro-batch at a time; the same step as the batch in one piece."""
    from trainkit.optim import AdamW
    from tune.steps import train_step

    rng = np.random.default_rng(2)
    ids = rng.integers(0, 1000, (4, 17))
    batch = (ids[:, :-1], ids[:, 1:], (rng.random((4, 16)) < 0.6).astype(np.uint8))
    after = []
    for micro in (None, 16):
        torch.manual_seed(0)
        model = LlamaLoRA(open_weights(tiny_model, torch.device("cpu"), 4.0), rank=4, alpha=8)
        for adapter in model.adapters.values():
            torch.nn.init.normal_(adapter.b, std=0.05)
        optimizer = AdamW([{"params": list(model.adapters.parameters()), "weight_decay": 0.0}],
                          lr=1e-2)
        loss = train_step(model, optimizer, batch, torch.device("cpu"), 1.0, micro)
        after.append((loss, [p.detach().clone() for p in model.adapters.parameters()]))
    assert abs(after[0][0] - after[1][0]) < 1e-5
    for a, b in zip(after[0][1], after[1][1], strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
