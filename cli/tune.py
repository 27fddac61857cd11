"""`echo-brain tune`: a LoRA adapter for a circuit's own GGUF, learned from the memory archive.

torch and the training packages are imported inside the command only, as for `train`.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.train import (
    TrainProgress,
    _install_signals,
    _model_ref,
    _settings,
    check_packages,
    console,
    err_console,
    fail,
)

TUNE_PACKAGES = ("numpy", "gguf", "torch", "llama_cpp")


def register(app: typer.Typer) -> None:
    """Add the `tune` command to the app."""
    app.command("tune")(tune)


def tune(
    circuit: Annotated[str, typer.Option(
        "--circuit", help="Whose GGUF to tune: self, emotion or creation / 조정할 회로")] = "self",
    memory_dir: Annotated[Path | None, typer.Option(
        "--memory-dir", help="The archive (default ECHO_MEMORY_DIR) / 기억 아카이브")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Adapters folder (default <ECHO_MODELS_DIR>/lora) / 어댑터 폴더")] = None,
    minutes: Annotated[float | None, typer.Option(
        "--minutes", min=0.01, help="Tune this many minutes in all (default 10) / 조정 시간(분)",
    )] = None,
    steps: Annotated[int | None, typer.Option(
        "--steps", min=1, help="Or this many optimizer steps in all / 또는 단계 수")] = None,
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
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate / 학습률")] = 1e-3,
    val_tokens: Annotated[int, typer.Option(
        "--val-tokens", min=16, help="Held-out tokens scored at each log / 검증 토큰 수")] = 2048,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the run folder's checkpoint / 체크포인트에서 이어서",
    )] = False,
    checkpoint_minutes: Annotated[float, typer.Option(
        "--checkpoint-minutes", min=0.0001, help="Checkpoint every M minutes / 체크포인트 간격",
    )] = 5.0,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="CPU threads (default: every core) / CPU 스레드 수")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the summary (tune.json) as JSON / 요약을 JSON으로")] = False,
) -> None:
    """Tune a LoRA adapter for a circuit's GGUF on the memory / 기억으로 회로의 LoRA를 조정합니다.

    Writes <out>/<circuit>/<circuit>-lora.gguf, tune.json, metrics.jsonl and a checkpoint, and
    ends with the ECHO_<CIRCUIT>_LORA=... line that serves the adapter.
    """
    if minutes is not None and steps is not None:
        raise fail("Give --minutes or --steps, not both.",
                   "--minutes와 --steps 중 하나만 지정하세요.")
    settings = _settings()
    check_packages("tune", TUNE_PACKAGES)
    from tune.config import TuneConfig

    config = TuneConfig(circuit=circuit, rank=rank, alpha=alpha, ram_gb=ram_gb, context=context,
                        batch_size=batch_size, lr=lr, steps=steps, val_tokens=val_tokens,
                        minutes=None if steps else (minutes or 10.0),
                        checkpoint_every_s=checkpoint_minutes * 60, resume=resume,
                        threads=threads)
    if steps is not None:
        config.log_every = max(1, min(config.log_every, steps // 5))
    model = _model_path(settings, circuit)
    out_dir = ((out or settings.models_dir / "lora") / circuit).resolve()
    summary = _run(model, memory_dir or settings.memory_dir, out_dir, settings, config, as_json)
    line = f"ECHO_{circuit.upper()}_LORA={_model_ref(out_dir / summary['adapter'], settings)}"
    summary["serve"] = line
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    _print_summary(summary, out_dir)
    sys.stdout.write(line + "\n")


def _model_path(settings: Any, circuit: str) -> Path:
    """The circuit's GGUF; exit 2 for an unknown circuit, a remote one or a missing file."""
    from core.circuits import is_local_model, model_path
    from core.settings import CIRCUIT_NAMES
    from tune import errors

    error = None
    if circuit not in CIRCUIT_NAMES:
        error = errors.unknown_circuit(circuit, tuple(CIRCUIT_NAMES))
    elif not is_local_model(spec := settings.model_spec(circuit)):
        error = errors.not_local(circuit, spec)
    elif not (path := model_path(settings, spec)).is_file():
        error = errors.missing_model(circuit, str(path))
    if error is not None:
        raise fail(error.message, error.message_ko)
    return path.resolve()


def _run(model: Path, memory: Path, out_dir: Path, settings: Any, config: Any,
         quiet: bool) -> dict[str, Any]:
    from core.fsio import tighten
    from origin_model.errors import Interrupted, TrainError, write_failed
    from tune.run import tune as run_tuning

    tighten(out_dir)  # what an older version wrote readable to others (new files: 0600)
    stop = threading.Event()
    previous = _install_signals(stop)
    try:
        with TrainProgress(err_console, enabled=not quiet) as progress:
            return run_tuning(model, memory, out_dir, settings, config, progress.event, stop)
    except Interrupted as exc:
        raise fail(exc.message, exc.message_ko, 130) from None
    except KeyboardInterrupt:
        raise fail("Interrupted: the files being written were discarded; the previous ones "
                   "are intact.",
                   "중단되었습니다: 쓰던 파일은 버리고 이전 파일은 그대로 두었습니다.",
                   130) from None
    except TrainError as exc:
        raise fail(exc.message, exc.message_ko) from None
    except OSError as exc:
        error = write_failed(str(exc.filename or out_dir), exc)
        raise fail(error.message, error.message_ko) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _print_summary(summary: dict[str, Any], out_dir: Path) -> None:
    from rich.table import Table

    table = Table("", "", title=f"LoRA adapter / LoRA 어댑터 ({summary['stopped']})")
    rows = {
        "base / 기반 모델": f"{summary['base']['file']} ({summary['base']['fingerprint'][:12]})",
        "rank · alpha": f"{summary['rank']} · {summary['alpha']:g}",
        "steps / 단계": str(summary["step"]),
        "tokens seen / 학습 토큰": f"{summary['tokens_seen']:,}",
        "train loss / 학습 손실": str(summary["train_loss"]),
        "val loss / 검증 손실": str(summary["val_loss"]),
        "val bits per byte": str(summary["val_bpb"]),
        "tokens/s": str(summary["tokens_per_s"]),
        "folder / 폴더": str(out_dir),
        "adapter / 어댑터": summary["adapter"],
    }
    for key, value in rows.items():
        table.add_row(key, value)
    console.print(table)
