"""What every run is bounded and scheduled by (no torch here: the CLI reads it for --help)."""

from __future__ import annotations

from dataclasses import dataclass

VAL_EVERY = 20  # one turn (train) or run of turns (tune) in twenty is held out


@dataclass
class RunConfig:
    """How long and how hard to train; `train` and `tune` each add their own fields."""

    steps: int | None = None  # total optimizer steps of the run, or
    minutes: float | None = None  # total training minutes of the run
    batch_size: int = 16
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    log_every: int = 25
    checkpoint_every_s: float = 300.0
    val_tokens: int = 16_384
    seed: int = 1337
    threads: int | None = None  # CPU threads; None = every core
    resume: bool = False

    def horizon(self) -> str:
        """What bounds the run, for messages: '300 steps' or '3 min'."""
        if self.steps is not None:
            return f"{self.steps} steps"
        return f"{self.minutes:g} min"
