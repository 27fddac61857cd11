"""Tuning a LoRA: the circuit's GGUF and its template, in the training kit's run loop.

`tune()` is what `echo-brain tune` calls: the base GGUF and the archive checked before anything
is written, the token files in the base's own chat template, AdamW on the adapters only,
checkpoints and metrics.jsonl as `train` writes them (the dashboard's Training tab follows
either), then the adapter GGUF and tune.json. Events and stops as in `trainkit.run`.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.settings import Settings
from llm.fingerprint import model_fingerprint
from trainkit import checkpoint as ckpt
from trainkit import errors
from trainkit.device import pick_device
from trainkit.optim import AdamW
from trainkit.run import Event, Run, ignore, open_run, prepare_folders, run
from tune.adapter import AdapterInfo, write_adapter
from tune.chat import ChatTokenizer
from tune.config import TuneConfig
from tune.data import MaskedStream, TuneData, has_turns, prepare
from tune.model import LlamaLoRA
from tune.steps import evaluate, train_step
from tune.weights import GGUFWeights, open_weights

# positions per forward/backward of a resident model: the demo model's activations take about
# 2 MB a position in float32, so 128 keep a tuning run of it under 1.5 GB
MICRO_TOKENS = 128


def adapter_name(circuit: str) -> str:
    """The adapter file inside the run folder."""
    return f"{circuit}-lora.gguf"


def tune(model_path: Path, memory_dir: Path, out_dir: Path, settings: Settings,
         config: TuneConfig, on_event: Event = ignore,
         stop: threading.Event | None = None) -> dict[str, Any]:
    """Tune (or resume), checkpoint, write the adapter and tune.json; the summary."""
    device = pick_device(config.threads)
    weights = open_weights(model_path, device, config.ram_gb)  # refuses before any write
    if not has_turns(memory_dir, settings):
        raise errors.no_archive(str(memory_dir))
    chat = _chat(model_path)
    base = {"file": model_path.name, "fingerprint": model_fingerprint(model_path)}
    prepare_folders(out_dir)
    doc = ckpt.resume_doc(out_dir, config.resume, on_event, json_keys=("base",))
    if doc is not None:
        check_resume(doc, base, config.rank, config.alpha)
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
    if doc is not None:
        model.adapters.load_state_dict(doc["adapters"])
    session = open_run(config, out_dir, optimizer, device, doc, on_event,
                       stop or threading.Event())
    return run(session, LoRATuning(config, base, info, model, out_dir / "data"))


def check_resume(doc: dict[str, Any], base: dict[str, str], rank: int, alpha: float) -> None:
    """Refuse to resume a checkpoint made for another base model, rank or alpha."""
    if doc["base"].get("fingerprint") != base["fingerprint"]:
        raise errors.resume_mismatch(f"base {doc['base'].get('file')}")
    if int(doc["rank"]) != rank or float(doc["alpha"]) != alpha:
        raise errors.resume_mismatch(f"rank {doc['rank']}, alpha {doc['alpha']}")


def release_free_memory() -> None:
    """Give the heap freed by unpacking back to the system (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _chat(model_path: Path) -> ChatTokenizer:
    try:
        return ChatTokenizer(model_path)
    except (ValueError, RuntimeError, OSError) as exc:
        raise errors.corrupt_gguf(str(model_path), f"tokenizer: {exc}"[:200]) from None


class LoRATuning:
    """The adapter's part of a run (trainkit.run.Hooks)."""

    name = "tune"

    def __init__(self, config: TuneConfig, base: dict[str, str], info: TuneData,
                 model: LlamaLoRA, data: Path) -> None:
        self.config, self.base, self.info, self.model = config, base, info, model
        self.weights: GGUFWeights = model.weights
        self.stream = MaskedStream(data, "train", config.context)
        self.val = MaskedStream(data, "val", config.context).fixed_windows(config.val_tokens)
        self.lengths = np.load(data / "bytes.npy")  # UTF-8 bytes of each token
        self.step_dequant_s = 0.0  # unpacking time inside training steps (this session)
        self.step_s = 0.0

    @property
    def trainable(self) -> int:
        """The adapters' parameters."""
        return sum(p.numel() for p in self.model.adapters.parameters())

    def start(self, run: Run) -> dict[str, Any]:
        """The adapters' size and whether the weights are kept unpacked."""
        return {"params": self.trainable, "train_tokens": self.info.train_tokens,
                "bf16": False, "resident": self.weights.resident}

    def step(self, run: Run) -> tuple[float, int]:
        """One step; streamed weights are unpacked once for the whole batch."""
        batch = self.stream.batch(run.rng, self.config.batch_size)
        unpacked, began = self.weights.dequant_s, time.perf_counter()
        micro = MICRO_TOKENS if self.weights.resident else None
        loss = train_step(self.model, run.optimizer, batch, run.device, self.config.grad_clip,
                          micro)
        self.step_s += time.perf_counter() - began
        self.step_dequant_s += self.weights.dequant_s - unpacked
        return loss, int(batch[0].size)

    def evaluate(self, run: Run) -> tuple[float, float]:
        """Loss and bits per byte of the assistant's held-out tokens."""
        return evaluate(self.model, self.val, self.lengths, run.device)

    def log_fields(self, run: Run) -> dict[str, Any]:
        """The share of step time spent unpacking weights."""
        return {"dequant_share": round(self.step_dequant_s / max(1e-9, self.step_s), 4)}

    def checkpoint(self, run: Run) -> dict[str, Any]:
        """The base it was made for, the rank, alpha and the adapters."""
        return {"base": json.dumps(self.base), "rank": self.model.rank, "alpha": self.model.alpha,
                "adapters": {k: v.detach().cpu()
                             for k, v in self.model.adapters.state_dict().items()}}

    def export(self, run: Run, stopped: str) -> dict[str, Any]:
        """The adapter GGUF; the summary's base, adapter and shape fields."""
        run.phase("writing the adapter / 어댑터 쓰는 중")
        info = AdapterInfo("llama", self.config.alpha, self.base["fingerprint"],
                           self.base["file"])
        adapter = run.out_dir / adapter_name(self.config.circuit)
        write_adapter(adapter, info, self.model.pairs(), f"echo-brain {self.config.circuit} LoRA")
        return {
            "circuit": self.config.circuit, "base": self.base, "adapter": adapter.name,
            "rank": self.config.rank, "alpha": self.config.alpha,
            "resident": self.weights.resident, "dequant_s": round(self.weights.dequant_s, 3),
            "step_dequant_share": round(self.step_dequant_s / max(1e-9, self.step_s), 4),
            "trainable_parameters": self.trainable, "shape": self.weights.shape.as_dict(),
            "context": self.config.context, "batch_size": self.config.batch_size,
            "data": asdict(self.info),
        }
