"""`echo-brain train` and `echo-brain tune` give the losses they gave before the training kit.

reference_losses.json was recorded by `python -m tests.trainkit.losses` from the code before
trainkit/ existed (commit "Reference losses ..."); same seed, steps, one thread, eager fp32.
Per-step figures are metrics.jsonl's (rounded to 5 decimals there); the learning rate and the
best validation loss are full floats. On the machine that recorded them they match exactly;
the tolerance only absorbs another CPU's last-bit differences.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.trainkit.losses import REFERENCE, train_figures, tune_figures

ROUNDED = 2e-5  # two units of metrics.jsonl's 5th decimal
REL = 1e-6


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["step"] == want["step"] and got["tokens_seen"] == want["tokens_seen"]
    assert math.isclose(got["best_val_loss"], want["best_val_loss"], rel_tol=REL)
    assert len(got["steps"]) == len(want["steps"])
    for mine, theirs in zip(got["steps"], want["steps"], strict=True):
        assert mine["step"] == theirs["step"] and mine["tokens_seen"] == theirs["tokens_seen"]
        assert math.isclose(mine["lr"], theirs["lr"], rel_tol=REL), (mine, theirs)
        for key in ("train_loss", "val_loss", "val_bpb"):
            assert abs(mine[key] - theirs[key]) <= ROUNDED, (key, mine, theirs)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """The recorded figures."""
    doc: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return doc


def test_train_gives_the_same_losses(reference: dict[str, Any], tmp_path: Path) -> None:
    _same(train_figures(tmp_path), reference["train"])


def test_tune_gives_the_same_losses(reference: dict[str, Any], tmp_path: Path,
                                    demo_model: Path) -> None:
    _same(tune_figures(tmp_path, demo_model), reference["tune"])


def test_the_comparison_sees_a_changed_loss(reference: dict[str, Any]) -> None:
    """The checker itself: one loss moved by 1e-4 fails."""
    changed = json.loads(json.dumps(reference["train"]))
    changed["steps"][2]["train_loss"] += 1e-4
    with pytest.raises(AssertionError):
        _same(changed, reference["train"])
