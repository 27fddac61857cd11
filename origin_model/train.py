"""The training run: data, model, AdamW with warm-up and cosine decay, checkpoints, export.

`train()` is what `echo-brain train` calls. It reports through `on_event(kind, doc)`:
'phase' (a message), 'start', 'step', 'log' (a metrics.jsonl line), 'checkpoint', 'export'.
It stops early, cleanly (checkpoint, export), when `stop` is set (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.settings import Settings
from origin_model import checkpoint as ckpt
from origin_model import errors, metrics
from origin_model.accel import StepLoss, StepPlan, plan_step
from origin_model.config import TrainConfig, model_config, parameter_count
from origin_model.data import DataInfo, TokenStream, prepare, write_json
from origin_model.evaluate import evaluate
from origin_model.export import ExportPaths, export_model, export_paths
from origin_model.files import guarded_write, remove_stale_tmp
from origin_model.model import Transformer
from origin_model.optim import AdamW
from origin_model.tokenizer import byte_lengths, load_tokenizer

Event = Callable[[str, dict[str, Any]], None]
WARMUP_FRACTION = 0.05


def _ignore(kind: str, doc: dict[str, Any]) -> None:
    """The default event sink."""


@dataclass
class Run:
    """Everything one run works with."""

    config: TrainConfig
    out_dir: Path
    info: DataInfo
    model: Transformer
    optimizer: AdamW
    state: ckpt.RunState
    rng: np.random.Generator
    device: torch.device
    on_event: Event
    stop: threading.Event
    plan: StepPlan
    loss: StepLoss
    losses: list[float] = field(default_factory=list)

    @property
    def autocast(self) -> bool:
        """bf16 autocast in the step and the evaluation."""
        return self.plan.bf16

    @property
    def data(self) -> Path:
        """The data folder."""
        return self.out_dir / "data"


def pick_device(threads: int | None = None) -> torch.device:
    """CUDA when torch has it, else the CPU with every core (or `threads`)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)) or 1)
    return torch.device("cpu")


def make_optimizer(model: Transformer, config: TrainConfig) -> AdamW:
    """AdamW; weight decay on matrices only."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    return AdamW(groups, lr=config.lr, betas=(0.9, 0.95), eps=1e-8)


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio · lr.

    The warm-up ends after warmup_steps or 5 % of the run, whichever comes first: a slow
    machine with --minutes 3 may make only a hundred steps in all.
    """
    warmup = max(1, min(config.warmup_steps, (config.steps or 10**9) // 10))
    warm = min(1.0, max((step + 1) / warmup, progress / WARMUP_FRACTION))
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warm * (config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine)


def progress_of(config: TrainConfig, state: ckpt.RunState) -> float:
    """How far the run is, 0..1, by steps or by training time."""
    if config.steps is not None:
        return state.step / max(1, config.steps)
    return state.elapsed_s / max(1e-9, (config.minutes or 0.0) * 60.0)


def train(memory_dir: Path, out_dir: Path, settings: Settings, config: TrainConfig,
          on_event: Event = _ignore, stop: threading.Event | None = None) -> dict[str, Any]:
    """Train (or resume), checkpoint, export; the train.json summary. Raises TrainError."""
    run = _setup(memory_dir, out_dir, settings, config, on_event, stop or threading.Event())
    first_step = run.state.step
    stopped = _loop(run)
    if stopped == "interrupted" and run.state.step == first_step:
        raise errors.interrupted()  # no new weights: keep the checkpoint and the export as they are
    return _finish(run, stopped)


def _setup(memory_dir: Path, out_dir: Path, settings: Settings, config: TrainConfig,
           on_event: Event, stop: threading.Event) -> Run:
    with guarded_write(out_dir):
        (out_dir / "data").mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(out_dir)
    remove_stale_tmp(out_dir / "data")
    doc = _resume_doc(out_dir, config, on_event)
    if doc is not None:
        ckpt.restore_tokenizer(doc, out_dir / "data" / "tokenizer.model")
    info = prepare(memory_dir, out_dir, settings, keep_tokenizer=doc is not None,
                   progress=lambda message: on_event("phase", {"message": message}))
    device = pick_device(config.threads)
    torch.manual_seed(config.seed)
    model = Transformer(model_config(config.size, info.vocab_size)).to(device)
    optimizer = make_optimizer(model, config)
    state, rng = ckpt.RunState(), np.random.default_rng(config.seed)
    if doc is not None:
        model.load_state_dict(doc["model"])
        optimizer.load_state_dict(doc["optimizer"])
        state = ckpt.run_state(doc)
        rng.bit_generator.state = state.rng
        torch.set_rng_state(doc["torch_rng"])
    metrics.trim(out_dir / "metrics.jsonl", state.step if doc is not None else 0)
    plan = plan_step(device)
    return Run(config, out_dir, info, model, optimizer, state, rng, device, on_event, stop,
               plan, StepLoss(model, plan.compile))


def _resume_doc(out_dir: Path, config: TrainConfig, on_event: Event) -> dict[str, Any] | None:
    path = out_dir / ckpt.NAME
    if not config.resume:
        return None
    if not path.is_file():
        on_event("phase", {"message": "no checkpoint: starting from step 0 / "
                                      "체크포인트가 없어 0단계부터 시작합니다"})
        return None
    doc = ckpt.load(path)
    if doc["size"] != config.size:
        raise ckpt.size_mismatch(doc["size"], config.size)
    return doc


def _finished(run: Run) -> bool:
    return progress_of(run.config, run.state) >= 1.0


def _loop(run: Run) -> str:
    """Optimizer steps until the horizon or a stop; 'done' or 'interrupted'."""
    context = run.model.config.context
    stream = TokenStream(run.data / "train.bin", context)
    val = TokenStream(run.data / "val.bin", context).fixed_windows(run.config.val_tokens)
    lengths = byte_lengths(load_tokenizer(run.data / "tokenizer.model"))
    tokens_per_step = run.config.batch_size * context
    run.on_event("start", {"step": run.state.step, "params": parameter_count(run.model.config),
                           "train_tokens": run.info.train_tokens, "device": run.device.type,
                           "bf16": run.autocast, "compile": run.loss.is_compiled,
                           "step_plan": run.plan.reason})
    if run.loss.is_compiled:
        run.on_event("phase", {"message": "compiling the training step (within the run's time) "
                                          "/ 학습 단계를 컴파일하는 중"})
    last_ckpt = last_log = time.monotonic()
    logged_tokens = run.state.tokens_seen
    run.model.train()
    try:
        while not _finished(run) and not run.stop.is_set():
            started = time.monotonic()
            _step(run, stream)
            run.state.tokens_seen += tokens_per_step
            run.state.elapsed_s += time.monotonic() - started
            run.on_event("step", _step_doc(run))
            if run.state.step % run.config.log_every == 0 or _finished(run):
                _log(run, val, lengths, (run.state.tokens_seen - logged_tokens)
                     / max(1e-9, time.monotonic() - last_log))
                last_log, logged_tokens = time.monotonic(), run.state.tokens_seen
            if time.monotonic() - last_ckpt >= run.config.checkpoint_every_s:
                _checkpoint(run)
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:  # no signal handler installed (library use): stop the same way
        run.stop.set()
    if run.losses:  # the steps since the last metrics line get theirs
        _log(run, val, lengths, (run.state.tokens_seen - logged_tokens)
             / max(1e-9, time.monotonic() - last_log))
    return "done" if _finished(run) else "interrupted"


def train_step(model: Transformer, optimizer: AdamW, batch: tuple[np.ndarray, np.ndarray],
               device: torch.device, bf16: bool, grad_clip: float,
               loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
               ) -> float:
    """One optimizer step on a batch (inputs, targets); the loss (`loss_fn`: compiled)."""
    ids = torch.from_numpy(batch[0]).to(device, non_blocking=True)
    targets = torch.from_numpy(batch[1]).to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        loss = (loss_fn or model.loss)(ids, targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _step(run: Run, stream: TokenStream) -> None:
    lr = learning_rate(run.config, run.state.step, progress_of(run.config, run.state))
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    batch = stream.batch(run.rng, run.config.batch_size)
    try:
        loss = train_step(run.model, run.optimizer, batch, run.device, run.autocast,
                          run.config.grad_clip, run.loss)
    except Exception as exc:
        if not run.loss.is_compiled:
            raise
        loss = _eager_retry(run, batch, exc)
    run.state.step += 1
    run.losses.append(loss)


def _eager_retry(run: Run, batch: tuple[np.ndarray, np.ndarray], exc: Exception) -> float:
    """The compiled step failed: give compiling up and take the same step eagerly."""
    run.loss.give_up(exc)
    run.optimizer.zero_grad(set_to_none=True)
    run.on_event("phase", {"message": f"torch.compile failed, training eagerly: "
                                      f"{run.loss.fallback} / 컴파일 실패, 즉시 실행으로 학습"})
    return train_step(run.model, run.optimizer, batch, run.device, run.autocast,
                      run.config.grad_clip, run.loss)


def _step_doc(run: Run) -> dict[str, Any]:
    return {"step": run.state.step, "elapsed_s": run.state.elapsed_s,
            "progress": min(1.0, progress_of(run.config, run.state)),
            "loss": run.losses[-1] if run.losses else None,
            "tokens_seen": run.state.tokens_seen}


def _log(run: Run, val: tuple[np.ndarray, np.ndarray], lengths: np.ndarray,
         tokens_per_s: float) -> None:
    val_loss, val_bpb = evaluate(run.model, val, lengths, run.device, run.autocast)
    run.model.train()
    if run.state.best_val_loss is None or val_loss < run.state.best_val_loss:
        run.state.best_val_loss = val_loss
    line = {"step": run.state.step, "elapsed_s": round(run.state.elapsed_s, 3),
            "tokens_seen": run.state.tokens_seen,
            "train_loss": round(sum(run.losses) / max(1, len(run.losses)), 5),
            "val_loss": round(val_loss, 5), "val_bpb": round(val_bpb, 5),
            "lr": learning_rate(run.config, max(0, run.state.step - 1),
                                progress_of(run.config, run.state)),
            "tokens_per_s": round(tokens_per_s, 1)}
    run.losses.clear()
    metrics.append(run.out_dir / "metrics.jsonl", line)
    run.on_event("log", line)


def _checkpoint(run: Run) -> None:
    run.state.rng = dict(run.rng.bit_generator.state)
    ckpt.save(run.out_dir / ckpt.NAME, run.model, run.optimizer, run.config.size, run.state,
              run.rng, run.data / "tokenizer.model")
    run.on_event("checkpoint", {"step": run.state.step})


def _finish(run: Run, stopped: str) -> dict[str, Any]:
    """Checkpoint, export the three formats, write train.json; the summary."""
    _checkpoint(run)
    paths = export_paths(run.out_dir, run.config.size)
    run.on_event("phase", {"message": "exporting .pth .safetensors .gguf / 내보내는 중"})
    run.model.eval()
    export_model(run.model.float(), run.data / "tokenizer.model", paths,
                 f"echo-brain origin {run.config.size}")
    summary = _summary(run, stopped, paths)
    write_json(run.out_dir / "train.json", summary)
    run.on_event("export", summary)
    return summary


def _summary(run: Run, stopped: str, paths: ExportPaths) -> dict[str, Any]:
    last = metrics.last(run.out_dir / "metrics.jsonl")
    return {
        "size": run.config.size, "parameters": parameter_count(run.model.config),
        "config": run.model.config.as_dict(), "stopped": stopped,
        "horizon": run.config.horizon(), "step": run.state.step,
        "tokens_seen": run.state.tokens_seen, "elapsed_s": round(run.state.elapsed_s, 3),
        "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss"),
        "val_bpb": last.get("val_bpb"), "best_val_loss": run.state.best_val_loss,
        "tokens_per_s": last.get("tokens_per_s"), "device": run.device.type,
        "bf16": run.autocast, "compile": run.loss.is_compiled,
        "compile_fallback": run.loss.fallback, "step_plan": run.plan.reason,
        "torch": torch.__version__,
        "data": {k: getattr(run.info, k) for k in ("parts", "lines", "turns", "train_tokens",
                                                   "val_tokens", "vocab_size")},
        "files": {kind: p.name for kind, p in zip(("tokenizer", "pth", "safetensors", "gguf"),
                                                  paths.all(), strict=True)},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
