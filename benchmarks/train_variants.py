"""The training variants, measured side by side (part of bench_train).

Quality: the default settings and the previous defaults (the loss on every token, not only
the replies', at a peak learning rate of 2e-3) each train for the same minutes on the same
corpus, at the same time (two child processes: the shared CPU's load falls on both alike), with
the step plan `trainkit.accel` makes for this machine, compile time counted in the minutes.
Speed: the plain eager fp32 loop (torch.optim.AdamW), the eager fp32 step (ECHO_TRAIN_BF16=0
ECHO_TRAIN_COMPILE=0) and the default step take turns, step by step, on the same batches, so
that a busy machine slows all three alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.common import REPO

# TrainConfig fields of each variant: {} is the default settings
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "previous": {"targets": "all", "lr": 2e-3},
}


def quality_side_by_side(work: Path, minutes: float, threads: int | None = None,
                         names: tuple[str, ...] = tuple(VARIANTS)) -> dict[str, dict[str, Any]]:
    """The variants' quality runs at once; {variant: bench_train.quality() document}."""
    procs = {}
    for name in names:
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        env = os.environ | {"PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "benchmarks.bench_train", "--quality-child",
               str(folder), "--minutes", str(minutes), "--layout", json.dumps(VARIANTS[name])]
        cmd += ["--threads", str(threads)] if threads else []
        procs[name] = subprocess.Popen(cmd, env=env, cwd=folder)
    for name, proc in procs.items():
        if proc.wait() != 0:
            raise SystemExit(f"the {name} quality run failed ({proc.returncode})")
    return {name: json.loads((work / name / "quality.json").read_text()) for name in procs}


def speed_interleaved(out: Path, rounds: int, threads: int | None = None) -> dict[str, Any]:
    """Tokens/s of the plain loop, the previous default and the new default, taking turns.

    The compilation is timed with an empty compile cache (a first run on a machine); the
    quality runs used torch's default cache, as every later run on a machine does.
    """
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(out.parent / "inductor-cold")
    import numpy as np
    import torch

    from origin_model.config import TrainConfig, model_config
    from origin_model.data import TokenStream
    from origin_model.model import Transformer
    from origin_model.train import train_step
    from trainkit.accel import StepLoss, plan_step
    from trainkit.device import pick_device
    from trainkit.optim import make_optimizer

    device, config = pick_device(threads), TrainConfig()
    plan = plan_step(device)
    stream = TokenStream(out / "data" / "train.bin", 256)
    rng = np.random.default_rng(0)
    batches = [stream.batch(rng, config.batch_size) for _ in range(4)]
    vocab = int(json.loads((out / "data" / "meta.json").read_text())["vocab_size"])

    def model() -> Transformer:
        torch.manual_seed(0)
        return Transformer(model_config("nano", vocab)).to(device)

    plain = model()
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=config.lr)

    def plain_step(batch: Any) -> None:
        loss = plain.loss(torch.from_numpy(batch[0]), torch.from_numpy(batch[1]))
        loss.backward()
        plain_opt.step()
        plain_opt.zero_grad()

    previous, new = model(), model()
    prev_opt, new_opt = make_optimizer(previous, config), make_optimizer(new, config)
    new_loss = StepLoss(new, plan.compile)
    steps = {
        "plain": plain_step,
        "previous": lambda b: train_step(previous, prev_opt, b, device, False, config.grad_clip),
        "default": lambda b: train_step(new, new_opt, b, device, plan.bf16, config.grad_clip,
                                        new_loss),
    }
    began = time.perf_counter()
    for batch in batches[:2]:
        steps["default"](batch)  # the compilation, measured on its own
    compile_s = time.perf_counter() - began
    for name in ("plain", "previous"):
        steps[name](batches[0])
    times: dict[str, list[float]] = {name: [] for name in steps}
    for index in range(rounds):
        for name, step in steps.items():
            began = time.perf_counter()
            step(batches[index % len(batches)])
            times[name].append(time.perf_counter() - began)
    tokens = config.batch_size * 256
    rate = {name: tokens / median(t) for name, t in times.items()}
    return {"plain": rate["plain"], "previous": rate["previous"], "default": rate["default"],
            "ratio": rate["default"] / rate["plain"],
            "previous_ratio": rate["previous"] / rate["plain"], "compile_s": compile_s,
            "bf16": float(plan.bf16), "compile": float(new_loss.is_compiled),
            "threads": float(torch.get_num_threads()), "rounds": float(rounds),
            "plan": plan.reason}
