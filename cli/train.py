"""`echo-brain train`: the origin's own nano language model, trained on the memory archive.

torch and the training packages are imported inside the command only: the server and every
other command never pay for them, and a missing one is a clear message, not a traceback.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)
TRAIN_PACKAGES = ("numpy", "sentencepiece", "safetensors", "gguf", "torch")
INSTALL = "bash scripts/setup.sh --train"


def register(app: typer.Typer) -> None:
    """Add the `train` command to the app."""
    app.command("train")(train)


def fail(message: str, message_ko: str, code: int = 2) -> typer.Exit:
    """Print a bilingual error on stderr; the Exit to raise."""
    err_console.print(f"[red]{message}[/red]\n{message_ko}", highlight=False)
    return typer.Exit(code)


def check_packages(command: str = "train", packages: tuple[str, ...] = TRAIN_PACKAGES) -> None:
    """Import what training needs; exit 2 with the install command when something is missing."""
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise fail(
                f"`echo-brain {command}` needs {name}, which is not installed ({exc}). Install the "
                f"training packages (CPU torch on a machine without a GPU) with: {INSTALL}",
                f"`echo-brain {command}`에는 {name} 패키지가 필요한데 설치되어 있지 않습니다. "
                f"학습용 패키지(GPU가 없으면 CPU용 torch)를 설치하세요: {INSTALL}",
            ) from None


def train(
    memory_dir: Annotated[Path | None, typer.Option(
        "--memory-dir", help="The archive (default ECHO_MEMORY_DIR) / 기억 아카이브")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Run folder (default <ECHO_MODELS_DIR>/origin) / 결과 폴더")] = None,
    minutes: Annotated[float | None, typer.Option(
        "--minutes", min=0.01, help="Train this many minutes in all (default 10) / 학습 시간(분)",
    )] = None,
    steps: Annotated[int | None, typer.Option(
        "--steps", min=1, help="Or this many optimizer steps in all / 또는 학습 단계 수")] = None,
    size: Annotated[str, typer.Option(
        "--size", help="nano (~1.5M parameters) or small (~4.5M) / 모델 크기")] = "nano",
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the run folder's checkpoint / 체크포인트에서 이어서",
    )] = False,
    checkpoint_minutes: Annotated[float, typer.Option(
        "--checkpoint-minutes", min=0.001, help="Checkpoint every M minutes / 체크포인트 간격",
    )] = 5.0,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="CPU threads (default: every core) / CPU 스레드 수")] = None,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, max=1024, help="Windows per step / 배치 크기")] = 16,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the summary (train.json) as JSON / 요약을 JSON으로")] = False,
) -> None:
    """Train the origin's own model on the memory archive / 기억으로 오리진의 모델을 학습합니다.

    Writes origin-<size>.pth, .safetensors and .gguf, tokenizer.model, train.json and
    metrics.jsonl into the run folder, and ends with the ECHO_SELF_MODEL=... line that serves
    the model as a circuit.
    """
    if size not in ("nano", "small"):
        raise fail(f"--size must be nano or small, not {size!r}.",
                   f"--size는 nano 또는 small이어야 합니다({size!r}은 안 됩니다).")
    if minutes is not None and steps is not None:
        raise fail("Give --minutes or --steps, not both.",
                   "--minutes와 --steps 중 하나만 지정하세요.")
    settings = _settings()
    memory = memory_dir or settings.memory_dir
    out_dir = (out or settings.models_dir / "origin").resolve()
    check_packages()
    from origin_model.config import TrainConfig

    config = TrainConfig(size=size, steps=steps, minutes=None if steps else (minutes or 10.0),
                         batch_size=batch_size, checkpoint_every_s=checkpoint_minutes * 60,
                         resume=resume, threads=threads)
    if steps is not None:
        config.log_every = max(1, min(config.log_every, steps // 10))
    summary = _run(memory, out_dir, settings, config, as_json)
    line = f"ECHO_SELF_MODEL={_model_ref(out_dir / summary['files']['gguf'], settings)}"
    summary["serve"] = line
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    _print_summary(summary, out_dir)
    sys.stdout.write(line + "\n")


def _settings() -> Any:
    from core.errors import ConfigError
    from core.settings import load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        raise fail(exc.message, exc.message_ko) from None


def _run(memory: Path, out_dir: Path, settings: Any, config: Any, quiet: bool) -> dict[str, Any]:
    from core.fsio import tighten
    from origin_model.errors import Interrupted, TrainError, write_failed
    from origin_model.train import train as run_training

    tighten(out_dir)  # what an older version wrote readable to others (new files: 0600)
    stop = threading.Event()
    previous = _install_signals(stop)
    try:
        with TrainProgress(err_console, enabled=not quiet) as progress:
            return run_training(memory, out_dir, settings, config, progress.event, stop)
    except Interrupted as exc:
        raise fail(exc.message, exc.message_ko, 130) from None
    except KeyboardInterrupt:  # a second Ctrl-C: every file is still whole (temporary names)
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


class TrainProgress:
    """The progress bar: loss, validation loss and bits per byte, tokens/s, ETA."""

    def __init__(self, console: Console, enabled: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.enabled = enabled
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]train[/bold] step {task.fields[step]}"), BarColumn(),
            TextColumn("loss {task.fields[loss]} · val {task.fields[val]} · "
                       "{task.fields[bpb]} bpb · {task.fields[tps]} tok/s"),
            TimeRemainingColumn(), console=console, disable=not enabled, transient=False,
        )
        self.task = self.progress.add_task("train", total=1000, visible=False, step=0,
                                           loss="-", val="-", bpb="-", tps="-")

    def __enter__(self) -> TrainProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def event(self, kind: str, doc: dict[str, Any]) -> None:
        """Render one event of the training run."""
        if not self.enabled:
            return
        if kind == "phase":
            self.progress.console.print(doc["message"], highlight=False)
        elif kind == "start":
            self.progress.console.print(
                f"{doc['params']:,} parameters, {doc['train_tokens']:,} training tokens, "
                f"{doc['device']}{' bf16' if doc['bf16'] else ''}"
                f"{' compiled' if doc.get('compile') else ''}, from step {doc['step']}",
                highlight=False)
            self.progress.update(self.task, visible=True)
        elif kind == "step":
            self.progress.update(self.task, completed=doc["progress"] * 1000, step=doc["step"],
                                 loss=f"{doc['loss']:.3f}")
        elif kind == "log":
            self.progress.update(self.task, val=f"{doc['val_loss']:.3f}",
                                 bpb=f"{doc['val_bpb']:.3f}", tps=f"{doc['tokens_per_s']:,.0f}")
            if not self.console.is_terminal:
                self.progress.console.print(json.dumps(doc), highlight=False, soft_wrap=True)
        elif kind == "checkpoint":
            self.progress.console.print(f"checkpoint at step {doc['step']} / 체크포인트 저장",
                                        highlight=False)


def _install_signals(stop: threading.Event) -> dict[int, Any]:
    """Ctrl-C and SIGTERM stop training cleanly; a second Ctrl-C stops at once."""
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
    return previous


def _model_ref(gguf: Path, settings: Any) -> str:
    """The GGUF relative to ECHO_MODELS_DIR when it lies inside, else its absolute path."""
    models = settings.models_dir.resolve()
    return gguf.relative_to(models).as_posix() if gguf.is_relative_to(models) else str(gguf)


def _print_summary(summary: dict[str, Any], out_dir: Path) -> None:
    from rich.table import Table

    table = Table("", "", title=f"origin model / 오리진 모델 ({summary['stopped']})")
    rows = {
        "size / 크기": f"{summary['size']} ({summary['parameters']:,} parameters)",
        "steps / 단계": str(summary["step"]),
        "tokens seen / 학습 토큰": f"{summary['tokens_seen']:,}",
        "train loss / 학습 손실": str(summary["train_loss"]),
        "val loss / 검증 손실": str(summary["val_loss"]),
        "val bits per byte": str(summary["val_bpb"]),
        "tokens/s": str(summary["tokens_per_s"]),
        "folder / 폴더": str(out_dir),
        "files / 파일": ", ".join(summary["files"].values()),
    }
    for key, value in rows.items():
        table.add_row(key, value)
    console.print(table)
