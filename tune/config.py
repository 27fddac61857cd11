"""Settings of a tuning run (no torch here: the CLI reads them for --help)."""

from __future__ import annotations

from dataclasses import dataclass

from trainkit.config import RunConfig


@dataclass
class TuneConfig(RunConfig):
    """Which circuit, what adapter, and the schedule's defaults for a LoRA (smaller steps)."""

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
