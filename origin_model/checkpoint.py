"""Checkpoints: model, optimizer, step, clocks, random states and the tokenizer itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from origin_model import errors
from origin_model.files import write_atomic
from origin_model.model import Transformer
from origin_model.optim import AdamW

NAME = "checkpoint.pt"


@dataclass
class RunState:
    """Where a run stands: what --resume continues from."""

    step: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    rng: dict[str, Any] = field(default_factory=dict)
    best_val_loss: float | None = None


def save(path: Path, model: Transformer, optimizer: AdamW, size: str,
         state: RunState, rng: np.random.Generator, tokenizer: Path) -> None:
    """Write the checkpoint atomically (temporary name, fsync, rename)."""
    doc = {
        "size": size,
        "config": json.dumps(model.config.as_dict()),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": state.step,
        "tokens_seen": state.tokens_seen,
        "elapsed_s": state.elapsed_s,
        "best_val_loss": state.best_val_loss,
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "tokenizer": torch.frombuffer(bytearray(tokenizer.read_bytes()), dtype=torch.uint8),
    }
    write_atomic(path, lambda tmp: torch.save(doc, tmp))


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint; a damaged one is a bilingual error, never a traceback."""
    try:
        doc: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        doc["config"] = json.loads(doc["config"])
        return doc
    except Exception as exc:  # torch raises many kinds for a truncated or foreign file
        raise errors.TrainError(
            f"The checkpoint {path} cannot be read ({type(exc).__name__}): run without --resume "
            "to start over.",
            f"체크포인트 {path}를 읽을 수 없습니다({type(exc).__name__}): --resume 없이 실행해 "
            "처음부터 다시 학습하세요.",
        ) from None


def restore_tokenizer(doc: dict[str, Any], target: Path) -> None:
    """Put the checkpoint's tokenizer back where the data step looks for it."""
    data = bytes(doc["tokenizer"].numpy().tobytes())
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, lambda tmp: tmp.write_bytes(data))


def run_state(doc: dict[str, Any]) -> RunState:
    """The RunState a checkpoint holds."""
    return RunState(int(doc["step"]), int(doc["tokens_seen"]), float(doc["elapsed_s"]),
                    json.loads(doc["numpy_rng"]), doc.get("best_val_loss"))


def size_mismatch(saved: str, asked: str) -> errors.TrainError:
    """--resume with another --size than the checkpoint's."""
    return errors.TrainError(
        f"The checkpoint is a '{saved}' model: resume with --size {saved}, or run without "
        "--resume to train a new one.",
        f"체크포인트는 '{saved}' 모델입니다: --size {saved}로 이어서 학습하거나 --resume 없이 새로 "
        "학습하세요.",
    )
