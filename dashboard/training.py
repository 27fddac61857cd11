"""A training run folder (`metrics.jsonl`, `train.json`) and the `echo-brain train` child."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SIZES = ("nano", "small")
LORA = "lora"  # `echo-brain tune` of the circuit the followed folder is named after
KINDS = (*SIZES, LORA)
CIRCUITS = ("self", "emotion", "creation")
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass
class RunData:
    """The records of one run so far, as columns the charts draw."""

    steps: list[float] = field(default_factory=list)
    train_loss: list[float | None] = field(default_factory=list)
    val_steps: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float | None] = field(default_factory=list)
    tokens_per_s: list[float | None] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)

    def add(self, records: list[dict[str, Any]]) -> int:
        """Append records that carry a numeric step; return how many were taken."""
        taken = 0
        for record in records:
            step = _num(record.get("step"))
            if step is None:
                continue
            self.steps.append(step)
            self.train_loss.append(_num(record.get("train_loss")))
            self.lr.append(_num(record.get("lr")))
            self.tokens_per_s.append(_num(record.get("tokens_per_s")))
            val = _num(record.get("val_loss"))
            if val is not None and math.isfinite(val):
                self.val_steps.append(step)
                self.val_loss.append(val)
            self.last = record
            taken += 1
        return taken


def progress_and_eta(
    last: dict[str, Any], planned_s: float | None
) -> tuple[float | None, float | None]:
    """The line's `progress` and `eta_s`; without them, from `elapsed_s` and the planned time."""
    progress, eta = _num(last.get("progress")), _num(last.get("eta_s"))
    elapsed = _num(last.get("elapsed_s"))
    if progress is None and planned_s and elapsed is not None:
        progress = min(1.0, elapsed / planned_s)
    if eta is None and planned_s and elapsed is not None:
        eta = max(0.0, planned_s - elapsed)
    return progress, eta


def format_eta(seconds: float | None) -> str:
    """`1h 02m`, `4m 05s`, `12s`, or `—`."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def train_command(
    out: Path, minutes: float, size: str, extra: list[str] | None = None
) -> list[str]:
    """`python -m cli train --out DIR --minutes M --size S` with this interpreter.

    size "lora" tunes instead: the folder must be a tune run folder, <adapters>/<circuit>.
    """
    minutes_text = f"{minutes:g}"
    if size == LORA:
        if out.name not in CIRCUITS:
            raise ValueError(f"a LoRA run folder is named after its circuit ({', '.join(CIRCUITS)}"
                             "), e.g. --run models/lora/self / LoRA 실행 폴더 이름은 회로 이름")
        return [sys.executable, "-m", "cli", "tune", "--circuit", out.name, "--out",
                str(out.parent), "--minutes", minutes_text, *(extra or [])]
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}")
    cmd = [sys.executable, "-m", "cli", "train", "--out", str(out), "--minutes", minutes_text]
    return cmd + ["--size", size] + list(extra or [])


class TrainingChild:
    """One `echo-brain train` process: output lines to a callback, SIGINT to stop gracefully."""

    def __init__(self, cmd: list[str], on_line: Callable[[str], None], cwd: Path | None = None):
        self.cmd = cmd
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # the source tree first, so `-m cli` is this checkout's even where it is not installed
        paths = [str(SOURCE_ROOT), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl+C in the dashboard's terminal is not the child's
        )
        self._reader = threading.Thread(target=self._pump, args=(on_line,), daemon=True)
        self._reader.start()

    def _pump(self, on_line: Callable[[str], None]) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for raw in self.proc.stdout:
                on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc.poll() is None

    def stop(self) -> None:
        """Ask it to stop: SIGINT, on which training checkpoints and exports."""
        if self.running:
            self.proc.send_signal(signal.SIGINT)

    def close(self, timeout: float = 60.0) -> int | None:
        """Stop and wait; SIGTERM, then SIGKILL, if it does not finish in time."""
        self.stop()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and self.running:
                self.proc.send_signal(sig)
            try:
                code = self.proc.wait(timeout=timeout if sig is None else 10)
                self._reader.join(timeout=5)
                return code
            except subprocess.TimeoutExpired:
                continue
        return self.proc.returncode
