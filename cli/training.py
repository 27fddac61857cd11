"""What `echo-brain train` and `echo-brain tune` share: their common options, the package check,
running the kit's loop under signals and a progress bar, errors as bilingual exits, and the
summary (a table, or JSON) with the line that serves the result.

torch and the training packages are imported inside the commands only: the server and every
other command never pay for them, and a missing one is a clear message, not a traceback.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from cli.common import console, err_console, report
from cli.progress import TrainProgress

# The `train` dependency group, installed together by `setup.sh --train`: both commands check
# all of it (their code shares the kit), so a half-installed group is named, never a traceback.
TRAIN_PACKAGES = ("numpy", "sentencepiece", "safetensors", "gguf", "torch")
INSTALL = "bash scripts/setup.sh --train"
Runner = Callable[[Callable[[str, dict[str, Any]], None], threading.Event], dict[str, Any]]

MemoryDir = Annotated[Path | None, typer.Option(
    "--memory-dir", help="The archive (default ECHO_MEMORY_DIR) / 기억 아카이브")]
Minutes = Annotated[float | None, typer.Option(
    "--minutes", min=0.01, help="Run this many minutes in all (default 10) / 실행 시간(분)")]
Steps = Annotated[int | None, typer.Option(
    "--steps", min=1, help="Or this many optimizer steps in all / 또는 학습 단계 수")]
Resume = Annotated[bool, typer.Option(
    "--resume", help="Continue from the run folder's checkpoint / 체크포인트에서 이어서")]
CheckpointMinutes = Annotated[float, typer.Option(
    "--checkpoint-minutes", min=0.0001, help="Checkpoint every M minutes / 체크포인트 간격")]
Threads = Annotated[int | None, typer.Option(
    "--threads", min=1, help="CPU threads (default: every core) / CPU 스레드 수")]
Lr = Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate / 학습률")]
AsJson = Annotated[bool, typer.Option(
    "--json", help="Print the summary as JSON / 요약을 JSON으로")]


def fail(message: str, message_ko: str, code: int = 2) -> typer.Exit:
    """Print a bilingual error on stderr; the Exit to raise."""
    report(message, message_ko)
    return typer.Exit(code)


def check_horizon(minutes: float | None, steps: int | None) -> None:
    """--minutes or --steps, not both."""
    if minutes is not None and steps is not None:
        raise fail("Give --minutes or --steps, not both.",
                   "--minutes와 --steps 중 하나만 지정하세요.")


def check_packages(command: str, packages: tuple[str, ...] = ()) -> None:
    """Import what the command needs; exit 2 with the install command when one is missing."""
    for name in (*TRAIN_PACKAGES, *packages):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise fail(
                f"`echo-brain {command}` needs {name}, which is not installed ({exc}). Install the "
                f"training packages (CPU torch on a machine without a GPU) with: {INSTALL}",
                f"`echo-brain {command}`에는 {name} 패키지가 필요한데 설치되어 있지 않습니다. "
                f"학습용 패키지(GPU가 없으면 CPU용 torch)를 설치하세요: {INSTALL}",
            ) from None


def run_training(runner: Runner, out_dir: Path, quiet: bool) -> dict[str, Any]:
    """Run the kit's loop with Ctrl-C/SIGTERM as a clean stop; its errors as exits 2 or 130."""
    from core.fsio import tighten
    from trainkit.errors import Interrupted, TrainError, write_failed

    tighten(out_dir)  # what an older version wrote readable to others (new files: 0600)
    stop = threading.Event()
    previous = _install_signals(stop)
    try:
        with TrainProgress(err_console, enabled=not quiet) as progress:
            return runner(progress.event, stop)
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


def model_ref(path: Path, settings: Any) -> str:
    """A file relative to ECHO_MODELS_DIR when it lies inside, else its absolute path."""
    models = settings.models_dir.resolve()
    return path.relative_to(models).as_posix() if path.is_relative_to(models) else str(path)


def show_summary(summary: dict[str, Any], serve: str, title: str, head: dict[str, str],
                 tail: dict[str, str], as_json: bool) -> None:
    """The summary as JSON (with the serve line inside) or as a table; then the serve line."""
    summary["serve"] = serve
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.table import Table

    table = Table("", "", title=f"{title} ({summary['stopped']})")
    common = {
        "steps / 단계": str(summary["step"]),
        "tokens seen / 학습 토큰": f"{summary['tokens_seen']:,}",
        "train loss / 학습 손실": str(summary["train_loss"]),
        "val loss / 검증 손실": str(summary["val_loss"]),
        "val bits per byte": str(summary["val_bpb"]),
        "tokens/s": str(summary["tokens_per_s"]),
    }
    for key, value in {**head, **common, **tail}.items():
        table.add_row(key, value)
    console.print(table)
    sys.stdout.write(serve + "\n")
