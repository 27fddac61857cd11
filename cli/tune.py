"""`echo-brain tune`: a LoRA adapter for a circuit's own GGUF, learned from the memory archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli import training
from cli.common import settings_or_exit

TUNE_PACKAGES = ("llama_cpp",)  # besides the training packages: the base's chat template


def register(app: typer.Typer) -> None:
    """Add the `tune` command to the app."""
    app.command("tune")(tune)


def tune(
    circuit: Annotated[str, typer.Option(
        "--circuit", help="Whose GGUF to tune: self, emotion or creation / 조정할 회로")] = "self",
    memory_dir: training.MemoryDir = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Adapters folder (default <ECHO_MODELS_DIR>/lora) / 어댑터 폴더")] = None,
    minutes: training.Minutes = None,
    steps: training.Steps = None,
    rank: Annotated[int, typer.Option("--rank", min=1, max=512, help="LoRA rank / 랭크")] = 16,
    alpha: Annotated[float, typer.Option(
        "--alpha", min=0.0, help="LoRA alpha (scale alpha/rank) / 알파")] = 32.0,
    ram_gb: Annotated[float, typer.Option(
        "--ram-gb", min=0.5, help="RAM budget: above it weights stay quantized / 메모리 예산(GB)",
    )] = 4.0,
    context: Annotated[int, typer.Option(
        "--context", min=16, max=8192, help="Tokens per window / 창 길이")] = 128,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, max=256, help="Windows per step / 배치 크기")] = 4,
    lr: training.Lr = 1e-3,
    val_tokens: Annotated[int, typer.Option(
        "--val-tokens", min=16, help="Held-out tokens scored at each log / 검증 토큰 수")] = 2048,
    resume: training.Resume = False,
    checkpoint_minutes: training.CheckpointMinutes = 5.0,
    threads: training.Threads = None,
    as_json: training.AsJson = False,
) -> None:
    """Tune a LoRA adapter for a circuit's GGUF on the memory / 기억으로 회로의 LoRA를 조정합니다.

    Writes <out>/<circuit>/<circuit>-lora.gguf, tune.json, metrics.jsonl and a checkpoint, and
    ends with the ECHO_<CIRCUIT>_LORA=... line that serves the adapter.
    """
    training.check_horizon(minutes, steps)
    settings = settings_or_exit()
    training.check_packages("tune", TUNE_PACKAGES)
    from tune.config import TuneConfig
    from tune.run import tune as tune_adapter

    config = TuneConfig.lora(
        circuit=circuit, rank=rank, alpha=alpha, ram_gb=ram_gb, context=context,
        batch_size=batch_size, lr=lr, steps=steps, val_tokens=val_tokens,
        minutes=None if steps else (minutes or 10.0), checkpoint_every_s=checkpoint_minutes * 60,
        resume=resume, threads=threads)
    if steps is not None:
        config.log_every = max(1, min(config.log_every, steps // 5))
    model = _model_path(settings, circuit)
    out_dir = ((out or settings.models_dir / "lora") / circuit).resolve()
    memory = memory_dir or settings.memory_dir
    summary = training.run_training(
        lambda event, stop: tune_adapter(model, memory, out_dir, settings, config, event, stop),
        out_dir, as_json)
    adapter = training.model_ref(out_dir / summary["adapter"], settings)
    serve = f"ECHO_{circuit.upper()}_LORA={adapter}"
    base = summary["base"]
    head = {"base / 기반 모델": f"{base['file']} ({base['fingerprint'][:12]})",
            "rank · alpha": f"{summary['rank']} · {summary['alpha']:g}"}
    tail = {"folder / 폴더": str(out_dir), "adapter / 어댑터": summary["adapter"]}
    training.show_summary(summary, serve, "LoRA adapter / LoRA 어댑터", head, tail, as_json)


def _model_path(settings: Any, circuit: str) -> Path:
    """The circuit's GGUF; exit 2 for an unknown circuit, a remote one or a missing file."""
    from core.circuits import is_local_model, model_path
    from core.settings import CIRCUIT_NAMES
    from trainkit import errors

    error = None
    if circuit not in CIRCUIT_NAMES:
        error = errors.unknown_circuit(circuit, tuple(CIRCUIT_NAMES))
    elif not is_local_model(spec := settings.model_spec(circuit)):
        error = errors.not_local(circuit, spec)
    elif not (path := model_path(settings, spec)).is_file():
        error = errors.missing_model(circuit, str(path))
    if error is not None:
        raise training.fail(error.message, error.message_ko)
    return path.resolve()
