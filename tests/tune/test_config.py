"""TuneConfig: the kit's schedule fields, a LoRA's defaults, and nothing of train's own."""

from __future__ import annotations

from dataclasses import fields

from origin_model.config import TrainConfig
from trainkit.config import RunConfig
from tune.config import LORA_SCHEDULE, TuneConfig


def test_tune_has_no_model_size_and_train_keeps_it() -> None:
    assert "size" not in {f.name for f in fields(TuneConfig)}
    assert TrainConfig().size == "nano"
    assert isinstance(TuneConfig(), RunConfig) and not isinstance(TuneConfig(), TrainConfig)


def test_lora_takes_the_lora_schedule_unless_told_otherwise() -> None:
    config = TuneConfig.lora(rank=4, lr=5e-4)
    assert (config.rank, config.lr, config.batch_size) == (4, 5e-4, LORA_SCHEDULE["batch_size"])
    assert config.weight_decay == 0.0 and config.warmup_steps == 20
    assert RunConfig().batch_size != config.batch_size  # the kit's default is train's
