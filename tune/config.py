"""Settings of a tuning run (no torch here: the CLI reads them for --help)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainkit.config import RunConfig

# A LoRA's schedule, where it differs from the kit's (train's): smaller batches of shorter
# windows, a lower rate, a short warm-up, no weight decay on the adapters.
LORA_SCHEDULE: dict[str, Any] = {"batch_size": 4, "lr": 1e-3, "warmup_steps": 20,
                                 "weight_decay": 0.0, "log_every": 20, "val_tokens": 2048}


@dataclass
class TuneConfig(RunConfig):
    """Which circuit and what adapter; build it with `lora()` for a LoRA's schedule."""

    circuit: str = "self"
    rank: int = 16
    alpha: float = 32.0
    ram_gb: float = 4.0  # above it the base's weights stay quantized
    context: int = 128

    @classmethod
    def lora(cls, **values: Any) -> TuneConfig:
        """A TuneConfig on LORA_SCHEDULE, but for what `values` sets."""
        return cls(**{**LORA_SCHEDULE, **values})
