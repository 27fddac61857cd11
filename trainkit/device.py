"""Where a run computes: CUDA when torch has it, else the CPU with every core (or --threads)."""

from __future__ import annotations

import os

import torch


def pick_device(threads: int | None = None) -> torch.device:
    """CUDA when torch has it, else the CPU with every core (or `threads`)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)) or 1)
    return torch.device("cpu")
