"""Settings of a tuning run (no torch here: the CLI reads them for --help)."""

from __future__ import annotations

from dataclasses import dataclass

from origin_model.config import TrainConfig


@dataclass
class TuneConfig(TrainConfig):
    """How long, how hard and with what adapter to tune; the schedule fields are train's."""

    circuit: str = "self"
    rank: int = 16
    alpha: float = 32.0
    ram_gb: float = 4.0
    context: int = 128
    batch_size: int = 4
    lr: float = 1e-3
    warmup_steps: int = 20
    weight_decay: float = 0.0
    log_every: int = 20
    val_tokens: int = 2048
