"""Training the nano model: its data, model and step, in the training kit's run loop.

`train()` is what `echo-brain train` calls: the archive's token files, the Transformer, AdamW
with warm-up and cosine decay, checkpoints (with the tokenizer inside), then the export in
three formats and train.json. Events and stops as in `trainkit.run`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.settings import Settings
from origin_model.config import TrainConfig, model_config, parameter_count
from origin_model.data import IGNORE, DataInfo, TokenStream, prepare
from origin_model.evaluate import evaluate
from origin_model.export import export_model, export_paths
from origin_model.model import Transformer
from origin_model.tokenizer import byte_lengths, load_tokenizer, role_id
from trainkit import checkpoint as ckpt
from trainkit import errors
from trainkit.accel import StepLoss, StepPlan, plan_step
from trainkit.device import pick_device
from trainkit.files import write_bytes
from trainkit.optim import AdamW, make_optimizer
from trainkit.run import Event, Run, ignore, open_run, prepare_folders, run

Batch = tuple[np.ndarray, np.ndarray]


def train(memory_dir: Path, out_dir: Path, settings: Settings, config: TrainConfig,
          on_event: Event = ignore, stop: threading.Event | None = None) -> dict[str, Any]:
    """Train (or resume), checkpoint, export; the train.json summary. Raises TrainError."""
    prepare_folders(out_dir, out_dir / "data")
    doc = ckpt.resume_doc(out_dir, config.resume, on_event, json_keys=("config",))
    if doc is not None:
        if doc["size"] != config.size:
            raise errors.size_mismatch(doc["size"], config.size)
        restore_tokenizer(doc, out_dir / "data" / "tokenizer.model")
    info = prepare(memory_dir, out_dir, settings, keep_tokenizer=doc is not None,
                   progress=lambda message: on_event("phase", {"message": message}))
    device = pick_device(config.threads)
    torch.manual_seed(config.seed)
    model = Transformer(model_config(config.size, info.vocab_size)).to(device)
    optimizer = make_optimizer(model, config)
    if doc is not None:
        model.load_state_dict(doc["model"])
    session = open_run(config, out_dir, optimizer, device, doc, on_event,
                       stop or threading.Event())
    return run(session, NanoTraining(config, info, model, plan_step(device), out_dir / "data"))


def restore_tokenizer(doc: dict[str, Any], target: Path) -> None:
    """Put the checkpoint's tokenizer back where the data step looks for it."""
    data = bytes(doc["tokenizer"].numpy().tobytes())
    if not target.is_file() or target.read_bytes() != data:
        write_bytes(target, data)


def train_step(model: Transformer, optimizer: AdamW, batch: Batch, device: torch.device,
               bf16: bool, grad_clip: float,
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


class NanoTraining:
    """The nano model's part of a run (trainkit.run.Hooks)."""

    name = "train"

    def __init__(self, config: TrainConfig, info: DataInfo, model: Transformer, plan: StepPlan,
                 data: Path) -> None:
        self.config, self.info, self.model, self.plan = config, info, model, plan
        self.loss = StepLoss(model, plan.compile)
        context = model.config.context
        self.stream = TokenStream(data / "train.bin", context)
        val = TokenStream(data / "val.bin", context)
        sp = load_tokenizer(data / "tokenizer.model")
        self.lengths = byte_lengths(sp)
        self.keep: np.ndarray | None = None  # which targets count; None: every one
        val_keep: np.ndarray | None = None
        if config.targets == "replies":  # the assistant turns' tokens only, where there are any
            replies, val_replies = (stream.reply_tokens(role_id(sp, "assistant"))
                                    for stream in (self.stream, val))
            if replies.any() and val_replies[1 : config.val_tokens + 1].any():
                self.keep, val_keep = replies, val_replies
        self.val = val.fixed_windows(config.val_tokens, val_keep)

    def start(self, run: Run) -> dict[str, Any]:
        """The model's size and the step plan."""
        if self.loss.is_compiled:
            run.phase("compiling the training step (within the run's time) / 학습 단계를 "
                      "컴파일하는 중")
        self.model.train()
        return {"params": parameter_count(self.model.config),
                "train_tokens": self.info.train_tokens, "bf16": self.plan.bf16,
                "compile": self.loss.is_compiled, "step_plan": self.plan.reason}

    def step(self, run: Run) -> tuple[float, int]:
        """One step; a compiled step that fails is given up and the step taken eagerly."""
        batch = self.stream.batch(run.rng, self.config.batch_size, self.keep)
        while (batch[1] == IGNORE).all():  # no reply in any window: the loss would be 0/0
            batch = self.stream.batch(run.rng, self.config.batch_size, self.keep)
        try:
            loss = self._step(run, batch)
        except Exception as exc:
            if not self.loss.is_compiled:
                raise
            self.loss.give_up(exc)
            run.optimizer.zero_grad(set_to_none=True)
            run.phase(f"torch.compile failed, training eagerly: {self.loss.fallback} / "
                      "컴파일 실패, 즉시 실행으로 학습")
            loss = self._step(run, batch)
        return loss, self.config.batch_size * self.model.config.context

    def _step(self, run: Run, batch: Batch) -> float:
        return train_step(self.model, run.optimizer, batch, run.device, self.plan.bf16,
                          self.config.grad_clip, self.loss)

    def evaluate(self, run: Run) -> tuple[float, float]:
        """Loss and bits per byte on the held-out windows."""
        result = evaluate(self.model, self.val, self.lengths, run.device, self.plan.bf16)
        self.model.train()
        return result

    def log_fields(self, run: Run) -> dict[str, Any]:
        """Nothing of its own in metrics.jsonl."""
        return {}

    def checkpoint(self, run: Run) -> dict[str, Any]:
        """The size, the model's shape and weights, and the tokenizer itself."""
        tokenizer = (run.out_dir / "data" / "tokenizer.model").read_bytes()
        return {"size": self.config.size, "config": json.dumps(self.model.config.as_dict()),
                "model": self.model.state_dict(),
                "tokenizer": torch.frombuffer(bytearray(tokenizer), dtype=torch.uint8)}

    def export(self, run: Run, stopped: str) -> dict[str, Any]:
        """The .pth, .safetensors and .gguf; the summary's model and data fields."""
        paths = export_paths(run.out_dir, self.config.size)
        run.phase("exporting .pth .safetensors .gguf / 내보내는 중")
        self.model.eval()
        export_model(self.model.float(), run.out_dir / "data" / "tokenizer.model", paths,
                     f"echo-brain origin {self.config.size}")
        return {
            "size": self.config.size, "parameters": parameter_count(self.model.config),
            "targets": self.config.targets if self.keep is not None else "all",
            "config": self.model.config.as_dict(), "bf16": self.plan.bf16,
            "compile": self.loss.is_compiled, "compile_fallback": self.loss.fallback,
            "step_plan": self.plan.reason,
            "data": {k: getattr(self.info, k) for k in ("parts", "lines", "turns",
                                                        "train_tokens", "val_tokens",
                                                        "vocab_size")},
            "files": {kind: p.name for kind, p in zip(("tokenizer", "pth", "safetensors", "gguf"),
                                                      paths.all(), strict=True)},
        }


