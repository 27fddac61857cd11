"""The learning rate over a run: linear warm-up, then cosine decay; progress by steps or time."""

from __future__ import annotations

import math

from trainkit.config import RunConfig

WARMUP_FRACTION = 0.05
MIN_WARMUP_STEPS = 10


def progress_of(config: RunConfig, step: int, elapsed_s: float) -> float:
    """How far the run is, 0..1 (more once past), by steps or by training time."""
    if config.steps is not None:
        return step / max(1, config.steps)
    return elapsed_s / max(1e-9, (config.minutes or 0.0) * 60.0)


def learning_rate(config: RunConfig, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio · lr.

    The warm-up lasts warmup_steps or 5 % of the run, whichever comes first (a slow machine
    with --minutes 3 may make only a hundred steps in all), but never under MIN_WARMUP_STEPS.
    5 % of a timed run is reckoned in steps at the pace so far (step / progress): a first
    step that compiles for longer than 5 % of the minutes used to end the warm-up before it
    began, and the run started at the full rate (issue 24).
    """
    warmup = max(1, min(config.warmup_steps, (config.steps or 10**9) // 10))
    if progress > 0:
        paced = math.ceil(WARMUP_FRACTION * step / progress)  # 5 % of the run, in steps
        warmup = min(warmup, max(min(warmup, MIN_WARMUP_STEPS), paced))
    warm = min(1.0, (step + 1) / warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warm * (config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine)
