"""Checkpoints: what the command saves (weights, its settings) plus the shared part: the
optimizer, the step, the clocks and the random states. Written atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainkit import errors
from trainkit.files import write_with
from trainkit.optim import AdamW

NAME = "checkpoint.pt"
Event = Callable[[str, dict[str, Any]], None]


@dataclass
class RunState:
    """Where a run stands: what --resume continues from."""

    step: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    best_val_loss: float | None = None


def save(path: Path, own: dict[str, Any], optimizer: AdamW, state: RunState,
         rng: np.random.Generator) -> None:
    """Write the command's own entries and the run's state (temporary name, fsync, rename)."""
    doc = {**own, "optimizer": optimizer.state_dict(), "step": state.step,
           "tokens_seen": state.tokens_seen, "elapsed_s": state.elapsed_s,
           "best_val_loss": state.best_val_loss,
           "numpy_rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state()}
    write_with(path, lambda tmp: torch.save(doc, tmp))


def load(path: Path, json_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a checkpoint (json_keys decoded); a damaged one is a bilingual error."""
    try:
        doc: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        for key in json_keys:
            doc[key] = json.loads(doc[key])
        return doc
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        raise errors.unreadable_checkpoint(str(path), exc) from None


def resume_doc(out_dir: Path, resume: bool, on_event: Event,
               json_keys: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The checkpoint to continue from: None without --resume or when there is none yet."""
    path = out_dir / NAME
    if not resume:
        return None
    if not path.is_file():
        on_event("phase", {"message": "no checkpoint: starting from step 0 / "
                                      "체크포인트가 없어 0단계부터 시작합니다"})
        return None
    return load(path, json_keys)


def restore(doc: dict[str, Any], optimizer: AdamW, rng: np.random.Generator) -> RunState:
    """Put the checkpoint's optimizer and random states back; where the run stood."""
    optimizer.load_state_dict(doc["optimizer"])
    rng.bit_generator.state = json.loads(doc["numpy_rng"])
    torch.set_rng_state(doc["torch_rng"])
    return RunState(int(doc["step"]), int(doc["tokens_seen"]), float(doc["elapsed_s"]),
                    doc.get("best_val_loss"))
