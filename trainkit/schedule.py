"""The learning rate over a run: linear warm-up, then cosine decay; progress by steps or time."""

from __future__ import annotations

import math

from trainkit.config import RunConfig

WARMUP_FRACTION = 0.05


def progress_of(config: RunConfig, step: int, elapsed_s: float) -> float:
    """How far the run is, 0..1 (more once past), by steps or by training time."""
    if config.steps is not None:
        return step / max(1, config.steps)
    return elapsed_s / max(1e-9, (config.minutes or 0.0) * 60.0)


def learning_rate(config: RunConfig, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio · lr.

    The warm-up ends after warmup_steps or 5 % of the run, whichever comes first: a slow
    machine with --minutes 3 may make only a hundred steps in all.
    """
    warmup = max(1, min(config.warmup_steps, (config.steps or 10**9) // 10))
    warm = min(1.0, max((step + 1) / warmup, progress / WARMUP_FRACTION))
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warm * (config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine)
