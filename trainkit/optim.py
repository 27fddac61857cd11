"""AdamW on torch's foreach kernels.

torch.optim's optimizers import the whole compiler stack (torch._dynamo) on first use: seconds
of start-up and exit on a small CPU, for a run that may last three minutes. This is the same
update (decoupled weight decay, bias-corrected moments), a handful of fused list operations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from trainkit.config import RunConfig


class AdamW:
    """Adam with decoupled weight decay; param_groups carry 'lr' and 'weight_decay'."""

    def __init__(self, groups: Iterable[dict[str, Any]], lr: float,
                 betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8) -> None:
        self.param_groups = [{"params": list(g["params"]), "weight_decay": g["weight_decay"],
                              "lr": lr} for g in groups]
        self.betas, self.eps, self.steps = betas, eps, 0
        self.exp_avg = [[torch.zeros_like(p) for p in g["params"]] for g in self.param_groups]
        self.exp_avg_sq = [[torch.zeros_like(p) for p in g["params"]] for g in self.param_groups]

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        self.steps += 1
        beta1, beta2 = self.betas
        correction1 = 1.0 - beta1**self.steps
        correction2 = math.sqrt(1.0 - beta2**self.steps)
        for group, m, v in zip(self.param_groups, self.exp_avg, self.exp_avg_sq, strict=True):
            params = group["params"]
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
            if group["weight_decay"]:
                torch._foreach_mul_(params, 1.0 - group["lr"] * group["weight_decay"])
            torch._foreach_lerp_(m, grads, 1.0 - beta1)
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, grads, grads, 1.0 - beta2)
            denom = torch._foreach_sqrt(v)
            torch._foreach_div_(denom, correction2)
            torch._foreach_add_(denom, self.eps)
            torch._foreach_addcdiv_(params, m, denom, -group["lr"] / correction1)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def state_dict(self) -> dict[str, Any]:
        """The moments and the step count (for checkpoints)."""
        return {"steps": self.steps, "exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq,
                "lr": [g["lr"] for g in self.param_groups]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() saved, onto these parameters' devices."""
        self.steps = int(state["steps"])
        pairs = ((self.exp_avg, state["exp_avg"]), (self.exp_avg_sq, state["exp_avg_sq"]))
        for mine, saved in pairs:
            for group, tensors in zip(mine, saved, strict=True):
                for target, value in zip(group, tensors, strict=True):
                    target.copy_(value)
        for param_group, lr in zip(self.param_groups, state["lr"], strict=True):
            param_group["lr"] = lr


def make_optimizer(model: torch.nn.Module, config: RunConfig) -> AdamW:
    """AdamW at the config's rate; its weight decay on matrices only."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    return AdamW(groups, lr=config.lr, betas=(0.9, 0.95), eps=1e-8)
