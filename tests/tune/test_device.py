"""CUDA, without a GPU: the device choice, and a dry run on torch's meta device.

The meta device computes shapes only; any tensor left on the CPU by the model (a table, a
mask, a weight) would meet a meta tensor and raise, as it would meet a CUDA one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainkit.device import pick_device
from tune.model import LlamaLoRA
from tune.weights import open_weights


def test_a_visible_gpu_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")


@pytest.mark.parametrize("ram_gb", [4.0, 0.5])
def test_forward_and_backward_stay_on_the_chosen_device(tiny_model: Path, ram_gb: float) -> None:
    device = torch.device("meta")
    weights = open_weights(tiny_model, device, ram_gb)
    weights.resident = ram_gb > 1  # both paths: weights kept, and unpacked per layer
    if not weights.resident:  # the row lookup reads the mapping with the ids on the CPU
        dim = weights.shape.dim
        weights.rows = lambda name, ids: torch.zeros(*ids.shape, dim, device=device)  # type: ignore[method-assign]
    model = LlamaLoRA(weights, rank=4, alpha=8).to(device)
    ids = torch.randint(0, 1000, (2, 12)).to(device)
    logits = model(ids)
    assert logits.device == device and logits.shape == (2, 12, weights.shape.vocab)
    logits.sum().backward()
    grads = [p.grad for p in model.adapters.parameters()]
    assert all(g is not None and g.device == device for g in grads)
