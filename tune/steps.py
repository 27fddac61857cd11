"""One optimizer step and the held-out evaluation (loss on the assistant's tokens only)."""

from __future__ import annotations

import math

import numpy as np
import torch

from trainkit.optim import AdamW
from tune.model import LlamaLoRA

EVAL_BATCH = 4
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]


def tensors(batch: Batch, device: torch.device) -> tuple[torch.Tensor, ...]:
    """ids, targets, mask on the device."""
    return tuple(torch.from_numpy(np.ascontiguousarray(part)).to(device) for part in batch)


def train_step(model: LlamaLoRA, optimizer: AdamW, batch: Batch, device: torch.device,
               grad_clip: float, micro_tokens: int | None = None) -> float:
    """One step on (ids, targets, mask); the mean loss over the targets (nats).

    The batch goes through in micro-batches of about micro_tokens positions whose gradients
    add up to the whole batch's: activations are held for one micro-batch at a time.
    """
    xs, ys, masks = batch
    total = max(1, int(masks.sum()))
    rows = max(1, (micro_tokens or xs.size) // xs.shape[1])
    nats = 0.0
    for start in range(0, len(xs), rows):
        part = slice(start, start + rows)
        ids, targets, mask = tensors((xs[part], ys[part], masks[part]), device)
        summed, count = model.loss_sum(ids, targets, mask)
        if count:
            (summed / total).backward()
            nats += float(summed.detach())
    params = [p for group in optimizer.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return nats / total


@torch.no_grad()
def evaluate(model: LlamaLoRA, windows: Batch, lengths: np.ndarray,
             device: torch.device) -> tuple[float, float]:
    """Mean loss (nats per target token) and bits per byte of the target tokens."""
    xs, ys, masks = windows
    nats, count, nbytes = 0.0, 0, 0
    for start in range(0, len(xs), EVAL_BATCH):
        part = slice(start, start + EVAL_BATCH)
        ids, targets, mask = tensors((xs[part], ys[part], masks[part]), device)
        total, n = model.loss_sum(ids, targets, mask)
        nats += float(total.detach())
        count += n
        nbytes += int(lengths[ys[part][masks[part].astype(bool)]].sum())
    return nats / max(1, count), nats / math.log(2) / max(1, nbytes)
