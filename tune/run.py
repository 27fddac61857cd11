"""The tuning run: base GGUF and archive checked, token files, AdamW on the adapters only,
checkpoints on a timer and on stop, metrics.jsonl as `train` writes it, the adapter GGUF.

`tune()` is what `echo-brain tune` calls. It reports through `on_event(kind, doc)` with the
same kinds as `train` ('phase', 'start', 'step', 'log', 'checkpoint', 'export'), so the same
progress bar and the dashboard's Training tab follow it.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.settings import Settings
from llm.fingerprint import model_fingerprint
from origin_model import errors as train_errors
from origin_model import metrics
from origin_model.checkpoint import RunState
from origin_model.data import write_json
from origin_model.files import guarded_write, remove_stale_tmp
from origin_model.optim import AdamW
from origin_model.train import learning_rate, pick_device, progress_of
from tune import checkpoint as ckpt
from tune import errors
from tune.adapter import AdapterInfo, write_adapter
from tune.chat import ChatTokenizer
from tune.config import TuneConfig
from tune.data import MaskedStream, TuneData, has_turns, prepare
from tune.model import LlamaLoRA
from tune.steps import evaluate, train_step
from tune.weights import GGUFWeights, open_weights

Event = Callable[[str, dict[str, Any]], None]
# positions per forward/backward of a resident model: the demo model's activations take about
# 2 MB a position in float32, so 128 keep a tuning run of it under 1.5 GB
MICRO_TOKENS = 128


def _ignore(kind: str, doc: dict[str, Any]) -> None:
    """The default event sink."""


@dataclass
class Run:
    """Everything one tuning run works with."""

    config: TuneConfig
    out_dir: Path
    base: dict[str, str]
    info: TuneData
    weights: GGUFWeights
    model: LlamaLoRA
    optimizer: AdamW
    state: RunState
    rng: np.random.Generator
    on_event: Event
    stop: threading.Event
    lengths: np.ndarray
    losses: list[float] = field(default_factory=list)
    step_dequant_s: float = 0.0  # unpacking time inside training steps (this session)
    step_s: float = 0.0

    @property
    def device(self) -> torch.device:
        """Where the run computes."""
        return self.weights.device


def adapter_name(circuit: str) -> str:
    """The adapter file inside the run folder."""
    return f"{circuit}-lora.gguf"


def tune(model_path: Path, memory_dir: Path, out_dir: Path, settings: Settings,
         config: TuneConfig, on_event: Event = _ignore,
         stop: threading.Event | None = None) -> dict[str, Any]:
    """Tune (or resume), checkpoint, write the adapter and tune.json; the summary."""
    run = _setup(model_path, memory_dir, out_dir, settings, config, on_event,
                 stop or threading.Event())
    first_step = run.state.step
    stopped = _loop(run)
    if stopped == "interrupted" and run.state.step == first_step:
        raise train_errors.interrupted()
    return _finish(run, stopped)


def _setup(model_path: Path, memory_dir: Path, out_dir: Path, settings: Settings,
           config: TuneConfig, on_event: Event, stop: threading.Event) -> Run:
    device = pick_device(config.threads)
    weights = open_weights(model_path, device, config.ram_gb)  # refuses before any write
    if not has_turns(memory_dir, settings):
        raise train_errors.no_archive(str(memory_dir))
    chat = _chat(model_path)
    base = {"file": model_path.name, "fingerprint": model_fingerprint(model_path)}
    with guarded_write(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(out_dir)
    doc = _resume_doc(out_dir, config, base, on_event)
    key = base["fingerprint"] + hashlib.sha256(chat.template.encode()).hexdigest()
    try:
        info = prepare(memory_dir, out_dir / "data", settings, chat, key,
                       progress=lambda message: on_event("phase", {"message": message}))
    finally:
        chat.close()
    if weights.resident:
        on_event("phase", {"message": "unpacking the weights / 가중치 푸는 중"})
        weights.load_all()
        release_free_memory()
    torch.manual_seed(config.seed)
    model = LlamaLoRA(weights, config.rank, config.alpha).to(device)
    optimizer = AdamW([{"params": list(model.adapters.parameters()),
                        "weight_decay": config.weight_decay}], lr=config.lr)
    state, rng = RunState(), np.random.default_rng(config.seed)
    if doc is not None:
        state = ckpt.restore(doc, model, optimizer, rng)
    metrics.trim(out_dir / "metrics.jsonl", state.step if doc is not None else 0)
    lengths = np.load(out_dir / "data" / "bytes.npy")
    return Run(config, out_dir, base, info, weights, model, optimizer, state, rng, on_event,
               stop, lengths)


def release_free_memory() -> None:
    """Give the heap freed by unpacking back to the system (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _chat(model_path: Path) -> ChatTokenizer:
    try:
        return ChatTokenizer(model_path)
    except (ValueError, RuntimeError, OSError) as exc:
        raise errors.corrupt_gguf(str(model_path), f"tokenizer: {exc}"[:200]) from None


def _resume_doc(out_dir: Path, config: TuneConfig, base: dict[str, str],
                on_event: Event) -> dict[str, Any] | None:
    path = out_dir / ckpt.NAME
    if not config.resume:
        return None
    if not path.is_file():
        on_event("phase", {"message": "no checkpoint: starting from step 0 / "
                                      "체크포인트가 없어 0단계부터 시작합니다"})
        return None
    doc = ckpt.load(path)
    ckpt.check(doc, base, config.rank, config.alpha)
    return doc


def _finished(run: Run) -> bool:
    return progress_of(run.config, run.state) >= 1.0


def _loop(run: Run) -> str:
    """Optimizer steps until the horizon or a stop; 'done' or 'interrupted'."""
    data = run.out_dir / "data"
    stream = MaskedStream(data, "train", run.config.context)
    val = MaskedStream(data, "val", run.config.context).fixed_windows(run.config.val_tokens)
    run.on_event("start", {"step": run.state.step, "params": _trainable(run.model),
                           "train_tokens": run.info.train_tokens, "device": run.device.type,
                           "bf16": False, "resident": run.weights.resident})
    last_ckpt = last_log = time.monotonic()
    logged_tokens = run.state.tokens_seen
    try:
        while not _finished(run) and not run.stop.is_set():
            started = time.monotonic()
            _step(run, stream)
            run.state.elapsed_s += time.monotonic() - started
            run.on_event("step", _step_doc(run))
            if run.state.step % run.config.log_every == 0 or _finished(run):
                _log(run, val, (run.state.tokens_seen - logged_tokens)
                     / max(1e-9, time.monotonic() - last_log))
                last_log, logged_tokens = time.monotonic(), run.state.tokens_seen
            if time.monotonic() - last_ckpt >= run.config.checkpoint_every_s:
                _checkpoint(run)
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:  # no signal handler installed (library use): stop the same way
        run.stop.set()
    if run.losses:
        _log(run, val, (run.state.tokens_seen - logged_tokens)
             / max(1e-9, time.monotonic() - last_log))
    return "done" if _finished(run) else "interrupted"


def _trainable(model: LlamaLoRA) -> int:
    return sum(p.numel() for p in model.adapters.parameters())


def _step(run: Run, stream: MaskedStream) -> None:
    lr = learning_rate(run.config, run.state.step, progress_of(run.config, run.state))
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    batch = stream.batch(run.rng, run.config.batch_size)
    unpacked, began = run.weights.dequant_s, time.perf_counter()
    micro = MICRO_TOKENS if run.weights.resident else None  # streamed: unpack once a step
    loss = train_step(run.model, run.optimizer, batch, run.device, run.config.grad_clip, micro)
    run.step_s += time.perf_counter() - began
    run.step_dequant_s += run.weights.dequant_s - unpacked
    run.state.step += 1
    run.state.tokens_seen += int(batch[0].size)
    run.losses.append(loss)


def _step_doc(run: Run) -> dict[str, Any]:
    progress = min(1.0, progress_of(run.config, run.state))
    eta = run.state.elapsed_s / progress * (1 - progress) if progress > 0 else None
    return {"step": run.state.step, "elapsed_s": run.state.elapsed_s, "progress": progress,
            "eta_s": eta, "loss": run.losses[-1] if run.losses else None,
            "tokens_seen": run.state.tokens_seen}


def _log(run: Run, val: tuple[np.ndarray, np.ndarray, np.ndarray], tokens_per_s: float) -> None:
    val_loss, val_bpb = evaluate(run.model, val, run.lengths, run.device)
    if run.state.best_val_loss is None or val_loss < run.state.best_val_loss:
        run.state.best_val_loss = val_loss
    doc = _step_doc(run)
    line = {"step": run.state.step, "elapsed_s": round(run.state.elapsed_s, 3),
            "tokens_seen": run.state.tokens_seen,
            "train_loss": round(sum(run.losses) / max(1, len(run.losses)), 5),
            "val_loss": round(val_loss, 5), "val_bpb": round(val_bpb, 5),
            "lr": learning_rate(run.config, max(0, run.state.step - 1),
                                progress_of(run.config, run.state)),
            "tokens_per_s": round(tokens_per_s, 1), "progress": round(doc["progress"], 4),
            "eta_s": None if doc["eta_s"] is None else round(doc["eta_s"], 1),
            "dequant_share": round(run.step_dequant_s / max(1e-9, run.step_s), 4)}
    run.losses.clear()
    metrics.append(run.out_dir / "metrics.jsonl", line)
    run.on_event("log", line)


def _checkpoint(run: Run) -> None:
    ckpt.save(run.out_dir / ckpt.NAME, run.model, run.optimizer, run.state, run.rng, run.base)
    run.on_event("checkpoint", {"step": run.state.step})


def _finish(run: Run, stopped: str) -> dict[str, Any]:
    """Checkpoint, write the adapter GGUF and tune.json; the summary."""
    _checkpoint(run)
    run.on_event("phase", {"message": "writing the adapter / 어댑터 쓰는 중"})
    info = AdapterInfo("llama", run.config.alpha, run.base["fingerprint"], run.base["file"])
    adapter = run.out_dir / adapter_name(run.config.circuit)
    write_adapter(adapter, info, run.model.pairs(), f"echo-brain {run.config.circuit} LoRA")
    summary = _summary(run, stopped, adapter)
    write_json(run.out_dir / "tune.json", summary)
    run.on_event("export", summary)
    return summary


def _summary(run: Run, stopped: str, adapter: Path) -> dict[str, Any]:
    last = metrics.last(run.out_dir / "metrics.jsonl")
    return {
        "circuit": run.config.circuit, "base": run.base, "adapter": adapter.name,
        "rank": run.config.rank, "alpha": run.config.alpha, "stopped": stopped,
        "horizon": run.config.horizon(), "step": run.state.step,
        "tokens_seen": run.state.tokens_seen, "elapsed_s": round(run.state.elapsed_s, 3),
        "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss"),
        "val_bpb": last.get("val_bpb"), "best_val_loss": run.state.best_val_loss,
        "tokens_per_s": last.get("tokens_per_s"), "device": run.device.type,
        "resident": run.weights.resident, "dequant_s": round(run.weights.dequant_s, 3),
        "step_dequant_share": round(run.step_dequant_s / max(1e-9, run.step_s), 4),
        "trainable_parameters": _trainable(run.model), "shape": run.weights.shape.as_dict(),
        "context": run.config.context, "batch_size": run.config.batch_size,
        "data": asdict(run.info), "torch": torch.__version__,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
