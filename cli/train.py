"""`echo-brain train`: the origin's own nano language model, trained on the memory archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import training
from cli.common import settings_or_exit


def register(app: typer.Typer) -> None:
    """Add the `train` command to the app."""
    app.command("train")(train)


def train(
    memory_dir: training.MemoryDir = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Run folder (default <ECHO_MODELS_DIR>/origin) / 결과 폴더")] = None,
    minutes: training.Minutes = None,
    steps: training.Steps = None,
    size: Annotated[str, typer.Option(
        "--size", help="nano (~1.5M parameters) or small (~4.5M) / 모델 크기")] = "nano",
    resume: training.Resume = False,
    checkpoint_minutes: training.CheckpointMinutes = 5.0,
    threads: training.Threads = None,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, max=1024, help="Windows per step / 배치 크기")] = 16,
    targets: Annotated[str, typer.Option(
        "--targets", help="What the loss counts: replies (the assistant's turns) or all tokens "
        "/ 손실에 넣을 토큰: replies(답변) 또는 all(전부)")] = "replies",
    lr: training.Lr = 4e-3,
    as_json: training.AsJson = False,
) -> None:
    """Train the origin's own model on the memory archive / 기억으로 오리진의 모델을 학습합니다.

    Writes origin-<size>.pth, .safetensors and .gguf, tokenizer.model, train.json and
    metrics.jsonl into the run folder, and ends with the ECHO_SELF_MODEL=... line that serves
    the model as a circuit.
    """
    if size not in ("nano", "small"):
        raise training.fail(f"--size must be nano or small, not {size!r}.",
                   f"--size는 nano 또는 small이어야 합니다({size!r}은 안 됩니다).")
    if targets not in ("replies", "all"):
        raise training.fail(f"--targets must be replies or all, not {targets!r}.",
                            f"--targets는 replies 또는 all이어야 합니다({targets!r}은 안 됩니다).")
    training.check_horizon(minutes, steps)
    settings = settings_or_exit()
    memory = memory_dir or settings.memory_dir
    out_dir = (out or settings.models_dir / "origin").resolve()
    training.check_packages("train")
    from origin_model.config import TrainConfig
    from origin_model.train import train as train_model

    config = TrainConfig(size=size, steps=steps, minutes=None if steps else (minutes or 10.0),
                         batch_size=batch_size, checkpoint_every_s=checkpoint_minutes * 60,
                         resume=resume, threads=threads, targets=targets, lr=lr)
    if steps is not None:
        config.log_every = max(1, min(config.log_every, steps // 10))
    summary = training.run_training(
        lambda event, stop: train_model(memory, out_dir, settings, config, event, stop),
        out_dir, as_json)
    serve = f"ECHO_SELF_MODEL={training.model_ref(out_dir / summary['files']['gguf'], settings)}"
    head = {"size / 크기": f"{summary['size']} ({summary['parameters']:,} parameters)"}
    tail = {"folder / 폴더": str(out_dir), "files / 파일": ", ".join(summary["files"].values())}
    training.show_summary(summary, serve, "origin model / 오리진 모델", head, tail, as_json)
