"""Checkpoints of a tuning run: the adapters, the optimizer, the clocks and random states."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from origin_model.checkpoint import RunState
from origin_model.files import write_atomic
from origin_model.optim import AdamW
from tune import errors
from tune.model import LlamaLoRA

NAME = "checkpoint.pt"


def save(path: Path, model: LlamaLoRA, optimizer: AdamW, state: RunState,
         rng: np.random.Generator, base: dict[str, str]) -> None:
    """Write the checkpoint atomically (temporary name, fsync, rename)."""
    doc = {
        "base": json.dumps(base), "rank": model.rank, "alpha": model.alpha,
        "adapters": {k: v.detach().cpu() for k, v in model.adapters.state_dict().items()},
        "optimizer": optimizer.state_dict(), "step": state.step,
        "tokens_seen": state.tokens_seen, "elapsed_s": state.elapsed_s,
        "best_val_loss": state.best_val_loss, "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
    }
    write_atomic(path, lambda tmp: torch.save(doc, tmp))


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint; a damaged one is a bilingual error, never a traceback."""
    try:
        doc: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        doc["base"] = json.loads(doc["base"])
        return doc
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        raise errors.TuneError(
            f"The checkpoint {path} cannot be read ({type(exc).__name__}): run without --resume "
            "to start over.",
            f"체크포인트 {path}를 읽을 수 없습니다({type(exc).__name__}): --resume 없이 실행해 "
            "처음부터 다시 하세요.",
        ) from None


def check(doc: dict[str, Any], base: dict[str, str], rank: int, alpha: float) -> None:
    """Refuse to resume a checkpoint made for another base model, rank or alpha."""
    if doc["base"].get("fingerprint") != base["fingerprint"]:
        raise errors.resume_mismatch(f"base {doc['base'].get('file')}")
    if int(doc["rank"]) != rank or float(doc["alpha"]) != alpha:
        raise errors.resume_mismatch(f"rank {doc['rank']}, alpha {doc['alpha']}")


def restore(doc: dict[str, Any], model: LlamaLoRA, optimizer: AdamW,
            rng: np.random.Generator) -> RunState:
    """Put the checkpoint back into the model, optimizer and random generators."""
    model.adapters.load_state_dict(doc["adapters"])
    optimizer.load_state_dict(doc["optimizer"])
    rng.bit_generator.state = json.loads(doc["numpy_rng"])
    torch.set_rng_state(doc["torch_rng"])
    return RunState(int(doc["step"]), int(doc["tokens_seen"]), float(doc["elapsed_s"]),
                    {}, doc.get("best_val_loss"))
