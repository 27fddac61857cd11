"""The model's sizes, the hand-written AdamW against torch's, the learning-rate schedule."""

from __future__ import annotations

import pytest
import torch

from origin_model.config import SIZES, TrainConfig, model_config, parameter_count
from origin_model.model import Transformer, count_parameters
from trainkit.optim import AdamW
from trainkit.schedule import learning_rate


@pytest.mark.parametrize(("size", "low", "high"), [("nano", 1.4e6, 1.6e6), ("small", 4.3e6, 4.7e6)])
def test_sizes_are_the_seeds(size: str, low: float, high: float) -> None:
    config = model_config(size, 4096)
    assert low < parameter_count(config) < high
    assert count_parameters(Transformer(config)) == parameter_count(config)
    assert all(width % 32 == 0 for width in SIZES[size][::3]) and config.head_dim % 32 == 0


def test_adamw_matches_torch_optim() -> None:
    torch.manual_seed(0)
    ours = Transformer(model_config("nano", 300, context=16))
    theirs = Transformer(model_config("nano", 300, context=16))
    theirs.load_state_dict(ours.state_dict())

    def groups(model: Transformer) -> list[dict[str, object]]:
        return [{"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": 0.1},
                {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0}]

    mine = AdamW(groups(ours), lr=3e-3)
    ref = torch.optim.AdamW(groups(theirs), lr=3e-3, betas=(0.9, 0.95), eps=1e-8)  # type: ignore[arg-type]
    ids = torch.randint(0, 300, (2, 17))
    for _ in range(3):
        for model, opt in ((ours, mine), (theirs, ref)):
            model.loss(ids[:, :-1], ids[:, 1:]).backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    restored = AdamW(groups(ours), lr=1.0)
    restored.load_state_dict(mine.state_dict())
    assert restored.steps == 3 and torch.equal(restored.exp_avg[0][0], mine.exp_avg[0][0])


def test_schedule_warms_up_then_decays() -> None:
    config = TrainConfig(steps=1000, lr=1e-3, warmup_steps=100, min_lr_ratio=0.1)
    rates = [learning_rate(config, step, step / 1000) for step in range(1000)]
    assert rates[0] < rates[20] < rates[45] <= 1e-3  # warm-up: 5 % of the run here
    assert rates[50] > rates[500] > rates[999] >= 1e-4 * 0.999
    timed = TrainConfig(minutes=3, lr=1e-3, warmup_steps=100)
    assert learning_rate(timed, 10, 0.06) > 0.99e-3  # a slow machine: warm after 5 % of the time
    # a first step that compiled for 10 % of the minutes: the warm-up still happens
    compiled = [learning_rate(timed, step, 0.1 + step * 1e-4) for step in range(12)]
    assert compiled[0] <= 0.1e-3 < compiled[4] < compiled[8] < compiled[10]
    assert compiled[10] > 0.95e-3


def test_the_cli_and_the_package_import_without_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, origin_model, origin_model.config, cli.train, api.server; "
            "sys.exit('torch' in sys.modules or 'sentencepiece' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
