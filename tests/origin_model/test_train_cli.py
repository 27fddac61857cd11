"""`echo-brain train` end to end: files, metrics, --resume, signals, kill -9."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.origin_model.conftest import (
    BATCH,
    SMALL,
    STEPS,
    TrainedRun,
    run_train,
    train_cmd,
    train_env,
)

MODEL_FILES = ("origin-nano.pth", "origin-nano.safetensors", "origin-nano.gguf", "tokenizer.model")
METRIC_KEYS = {"step", "elapsed_s", "tokens_seen", "train_loss", "val_loss", "val_bpb", "lr",
               "tokens_per_s"}


def metrics(out: Path) -> list[dict[str, float]]:
    """metrics.jsonl as dicts."""
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def digests(out: Path) -> dict[str, str]:
    """sha256 of each exported model file."""
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in MODEL_FILES}


def leftovers(out: Path) -> list[str]:
    """Temporary files left in the run folder."""
    return sorted(p.name for p in out.rglob(".*.tmp"))


def start(models: Path, *args: str | Path) -> subprocess.Popen[str]:
    """Start `echo-brain train` in the background."""
    return subprocess.Popen(train_cmd(*args), cwd=models.parent, env=train_env(models),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate: object, proc: subprocess.Popen[str], timeout: float = 300) -> None:
    """Poll until predicate() is true; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_run_writes_every_file_and_ends_with_the_serve_line(trained: TrainedRun) -> None:
    assert trained.stdout.rstrip("\n").splitlines()[-1] == "ECHO_SELF_MODEL=origin/origin-nano.gguf"
    for name in (*MODEL_FILES, "train.json", "metrics.jsonl", "checkpoint.pt"):
        assert (trained.out / name).stat().st_size > 0, name
    summary = trained.summary()
    assert summary["step"] == STEPS and summary["stopped"] == "done"
    from trainkit.accel import cxx_compiler, native_bf16_cpu

    # the default step: compiled where a C++ compiler is, bf16 where the CPU has it natively
    assert summary["compile"] is (cxx_compiler() is not None), summary["step_plan"]
    assert summary["bf16"] is native_bf16_cpu() and summary["compile_fallback"] is None
    assert 1_400_000 < summary["parameters"] < 1_600_000  # type: ignore[operator]
    lines = metrics(trained.out)
    assert lines and all(METRIC_KEYS <= set(line) for line in lines)
    assert [line["step"] for line in lines] == sorted({line["step"] for line in lines})
    assert lines[-1]["step"] == STEPS
    assert lines[-1]["val_loss"] < lines[0]["val_loss"]  # it learns
    assert not leftovers(trained.out)


def test_resume_continues_the_step_count_and_the_loss(trained: TrainedRun, tmp_path: Path) -> None:
    models = tmp_path / "models"
    out = trained.copy_to(models / "origin")
    before = metrics(out)
    done = run_train(models, "--memory-dir", trained.memory, "--steps", str(STEPS + 4),
                     "--resume", "--json", *SMALL)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["step"] == STEPS + 4 and summary["tokens_seen"] == (STEPS + 4) * BATCH * 256
    after = metrics(out)
    assert after[: len(before)] == before
    new = after[len(before):]
    assert new and new[0]["step"] > STEPS and after[-1]["step"] == STEPS + 4
    assert new[0]["val_loss"] < before[-1]["val_loss"] + 0.3  # continuous, not a fresh model
    assert summary["serve"] == "ECHO_SELF_MODEL=origin/origin-nano.gguf"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_checkpoints_and_exports(
    trained: TrainedRun, tmp_path: Path, signum: signal.Signals
) -> None:
    models = tmp_path / "models"
    out = trained.copy_to(models / "origin")
    old = digests(out)
    proc = start(models, "--memory-dir", trained.memory, "--steps", "5000", "--resume", *SMALL)
    wait_for(lambda: len(metrics(out)) > len(metrics(trained.out)), proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert stdout.rstrip("\n").splitlines()[-1] == "ECHO_SELF_MODEL=origin/origin-nano.gguf"
    summary = json.loads((out / "train.json").read_text())
    assert summary["stopped"] == "interrupted" and STEPS < summary["step"] < 5000
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["step"] == summary["step"]
    assert digests(out)["origin-nano.gguf"] != old["origin-nano.gguf"]
    assert not leftovers(out)


def test_kill_9_leaves_the_model_intact_and_the_rerun_resumes(
    trained: TrainedRun, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    out = trained.copy_to(models / "origin")
    old = digests(out)

    def checkpointed() -> bool:
        try:
            return int(torch.load(out / "checkpoint.pt", weights_only=True)["step"]) > STEPS
        except Exception:  # being replaced right now
            return False

    proc = start(models, "--memory-dir", trained.memory, "--steps", "5000", "--resume",
                 "--checkpoint-minutes", "0.02", *SMALL)
    wait_for(checkpointed, proc)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert digests(out) == old  # the previous model files are untouched
    resumed_from = int(torch.load(out / "checkpoint.pt", weights_only=True)["step"])
    assert resumed_from > STEPS
    done = run_train(models, "--memory-dir", trained.memory, "--steps", str(resumed_from + 2),
                     "--resume", "--json", *SMALL)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["step"] == resumed_from + 2
    steps = [line["step"] for line in metrics(out)]
    assert steps == sorted(set(steps)) and steps[-1] == resumed_from + 2
    assert not leftovers(out)


def test_minutes_bound_the_training_time(trained: TrainedRun, tmp_path: Path) -> None:
    models = tmp_path / "models"
    out = trained.copy_to(models / "origin")
    (out / "checkpoint.pt").unlink()  # a fresh run on the cached tokenizer and token files
    done = run_train(models, "--memory-dir", trained.memory, "--minutes", "0.1", "--json", *SMALL)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["horizon"] == "0.1 min" and summary["stopped"] == "done"
    assert 6.0 <= summary["elapsed_s"] < 6.0 + 30 and summary["step"] >= 1
    lines = metrics(out)  # a fresh metrics.jsonl: a line every 25 steps and at the end
    assert lines[-1]["step"] == summary["step"] and len(lines) <= summary["step"] // 25 + 1
