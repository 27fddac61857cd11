"""The run loop both commands share, with the hooks each fills in.

`run()` is the whole life of a run: optimizer steps under the schedule until the horizon or
a stop (Ctrl-C, SIGTERM), a metrics.jsonl line every `log_every` steps, a checkpoint on a
timer and at the end, then the command's own files and the summary (<name>.json). It
reports through `on_event(kind, doc)`: 'phase' (a message), 'start', 'step', 'log' (a
metrics.jsonl line), 'checkpoint', 'export' (the summary).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from trainkit import checkpoint as ckpt
from trainkit import errors, metrics
from trainkit.config import RunConfig
from trainkit.files import guarded_write, remove_stale_tmp, write_json
from trainkit.optim import AdamW
from trainkit.schedule import learning_rate, progress_of

Event = Callable[[str, dict[str, Any]], None]


def ignore(kind: str, doc: dict[str, Any]) -> None:
    """The default event sink."""


class Hooks(Protocol):
    """What a command adds to the shared run: its step, its evaluation and its files."""

    name: str  # 'train' or 'tune': the summary is <name>.json

    def start(self, run: Run) -> dict[str, Any]:
        """Ready to step (model.train()); the 'start' event's own fields."""

    def step(self, run: Run) -> tuple[float, int]:
        """One optimizer step at the learning rate already set: its loss and tokens."""

    def evaluate(self, run: Run) -> tuple[float, float]:
        """Held-out loss (nats per token) and bits per byte."""

    def log_fields(self, run: Run) -> dict[str, Any]:
        """What this command adds to a metrics.jsonl line."""

    def checkpoint(self, run: Run) -> dict[str, Any]:
        """The checkpoint's own entries (weights, what a resume must match)."""

    def export(self, run: Run, stopped: str) -> dict[str, Any]:
        """Write the command's files; the summary's own fields."""


@dataclass
class Run:
    """What every run works with, whatever it trains."""

    config: RunConfig
    out_dir: Path
    optimizer: AdamW
    device: torch.device
    state: ckpt.RunState
    rng: np.random.Generator
    on_event: Event
    stop: threading.Event
    losses: list[float] = field(default_factory=list)

    def phase(self, message: str) -> None:
        """Tell the user what the run is doing."""
        self.on_event("phase", {"message": message})

    @property
    def progress(self) -> float:
        """How far the run is, 0..1 (more once past the horizon)."""
        return progress_of(self.config, self.state.step, self.state.elapsed_s)

    @property
    def finished(self) -> bool:
        """The horizon is reached."""
        return self.progress >= 1.0


def prepare_folders(out_dir: Path, *folders: Path) -> None:
    """Create the run folder (and others inside it); drop what a killed run left half-written."""
    with guarded_write(out_dir):
        for folder in (out_dir, *folders):
            folder.mkdir(parents=True, exist_ok=True)
    for folder in (out_dir, *folders):
        remove_stale_tmp(folder)


def open_run(config: RunConfig, out_dir: Path, optimizer: AdamW, device: torch.device,
             doc: dict[str, Any] | None, on_event: Event, stop: threading.Event) -> Run:
    """The Run, continued from a checkpoint's state when one is given; metrics.jsonl trimmed."""
    state, rng = ckpt.RunState(), np.random.default_rng(config.seed)
    if doc is not None:
        state = ckpt.restore(doc, optimizer, rng)
    metrics.trim(out_dir / "metrics.jsonl", state.step if doc is not None else 0)
    return Run(config, out_dir, optimizer, device, state, rng, on_event, stop)


def run(session: Run, hooks: Hooks) -> dict[str, Any]:
    """Train to the horizon or a stop, checkpoint, write the command's files; the summary.

    Raises Interrupted when stopped before a single new step: the checkpoint and the files
    already there are left as they are.
    """
    first_step = session.state.step
    stopped = _loop(session, hooks)
    if stopped == "interrupted" and session.state.step == first_step:
        raise errors.interrupted()
    return _finish(session, hooks, stopped)


def _loop(run: Run, hooks: Hooks) -> str:
    """Optimizer steps until the horizon or a stop; 'done' or 'interrupted'."""
    run.on_event("start", {"step": run.state.step, "device": run.device.type,
                           **hooks.start(run)})
    last_ckpt = last_log = time.monotonic()
    logged_tokens = run.state.tokens_seen
    try:
        while not run.finished and not run.stop.is_set():
            started = time.monotonic()
            _step(run, hooks)
            run.state.elapsed_s += time.monotonic() - started
            run.on_event("step", _step_doc(run))
            if run.state.step % run.config.log_every == 0 or run.finished:
                _log(run, hooks, (run.state.tokens_seen - logged_tokens)
                     / max(1e-9, time.monotonic() - last_log))
                last_log, logged_tokens = time.monotonic(), run.state.tokens_seen
            if time.monotonic() - last_ckpt >= run.config.checkpoint_every_s:
                _checkpoint(run, hooks)
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:  # no signal handler installed (library use): stop the same way
        run.stop.set()
    if run.losses:  # the steps since the last metrics line get theirs
        _log(run, hooks, (run.state.tokens_seen - logged_tokens)
             / max(1e-9, time.monotonic() - last_log))
    return "done" if run.finished else "interrupted"


def _step(run: Run, hooks: Hooks) -> None:
    lr = learning_rate(run.config, run.state.step, run.progress)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    loss, tokens = hooks.step(run)
    run.state.step += 1
    run.state.tokens_seen += tokens
    run.losses.append(loss)


def _step_doc(run: Run) -> dict[str, Any]:
    progress = min(1.0, run.progress)
    eta = run.state.elapsed_s / progress * (1 - progress) if progress > 0 else None
    return {"step": run.state.step, "elapsed_s": run.state.elapsed_s, "progress": progress,
            "eta_s": eta, "loss": run.losses[-1] if run.losses else None,
            "tokens_seen": run.state.tokens_seen}


def _log(run: Run, hooks: Hooks, tokens_per_s: float) -> None:
    val_loss, val_bpb = hooks.evaluate(run)
    if run.state.best_val_loss is None or val_loss < run.state.best_val_loss:
        run.state.best_val_loss = val_loss
    doc = _step_doc(run)
    line = {"step": run.state.step, "elapsed_s": round(run.state.elapsed_s, 3),
            "tokens_seen": run.state.tokens_seen,
            "train_loss": round(sum(run.losses) / max(1, len(run.losses)), 5),
            "val_loss": round(val_loss, 5), "val_bpb": round(val_bpb, 5),
            "lr": learning_rate(run.config, max(0, run.state.step - 1), run.progress),
            "tokens_per_s": round(tokens_per_s, 1), "progress": round(doc["progress"], 4),
            "eta_s": None if doc["eta_s"] is None else round(doc["eta_s"], 1),
            **hooks.log_fields(run)}
    run.losses.clear()
    metrics.append(run.out_dir / "metrics.jsonl", line)
    run.on_event("log", line)


def _checkpoint(run: Run, hooks: Hooks) -> None:
    ckpt.save(run.out_dir / ckpt.NAME, hooks.checkpoint(run), run.optimizer, run.state, run.rng)
    run.on_event("checkpoint", {"step": run.state.step})


def _finish(run: Run, hooks: Hooks, stopped: str) -> dict[str, Any]:
    """Checkpoint, the command's files, <name>.json; the summary."""
    _checkpoint(run, hooks)
    own = hooks.export(run, stopped)
    summary = {**own, **_summary(run, stopped)}
    write_json(run.out_dir / f"{hooks.name}.json", summary)
    run.on_event("export", summary)
    return summary


def _summary(run: Run, stopped: str) -> dict[str, Any]:
    last = metrics.last(run.out_dir / "metrics.jsonl")
    return {
        "stopped": stopped, "horizon": run.config.horizon(), "step": run.state.step,
        "tokens_seen": run.state.tokens_seen, "elapsed_s": round(run.state.elapsed_s, 3),
        "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss"),
        "val_bpb": last.get("val_bpb"), "best_val_loss": run.state.best_val_loss,
        "tokens_per_s": last.get("tokens_per_s"), "device": run.device.type,
        "torch": torch.__version__,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
