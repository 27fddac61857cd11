"""`echo-brain dashboard`: the desktop window on a live server and its training runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err_console = Console(stderr=True)


def default_log() -> Path | None:
    """$ECHO_LOG_DIR/echo-brain.log (the launcher's; default dir /workspace/logs) if it exists."""
    path = Path(os.environ.get("ECHO_LOG_DIR") or "/workspace/logs") / "echo-brain.log"
    return path if path.is_file() else None


def dashboard(
    url: Annotated[str, typer.Option(help="Server base URL / 서버 주소")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="ECHO_TOKEN", help="Bearer token (or ECHO_TOKEN) / 토큰")
    ] = None,
    run: Annotated[
        Path, typer.Option("--run", help="Training run folder to follow / 따라갈 학습 폴더")
    ] = Path("models/origin"),
    log: Annotated[
        Path | None,
        typer.Option(help="Log file to follow (default $ECHO_LOG_DIR/echo-brain.log) / 로그 파일"),
    ] = None,
) -> None:
    """The desktop dashboard: server, ask, training, logs / 데스크톱 대시보드."""
    try:
        from dashboard.app import DisplayUnavailable
        from dashboard.app import run as run_window
    except ImportError as exc:
        err_console.print(
            f"[red]The dashboard needs Tk and matplotlib ({exc}); install the `dashboard` "
            "dependency group and Python's Tk (e.g. apt-get install python3-tk).[/red]\n"
            "대시보드에는 Tk와 matplotlib가 필요합니다: `dashboard` 의존성 그룹과 Tk를 설치하세요."
        )
        raise typer.Exit(2) from None
    try:
        run_window(url, token, run, log or default_log())
    except DisplayUnavailable as exc:
        err_console.print(
            f"[red]{exc.message}[/red] Run it on a desktop, or over `ssh -X`, or set DISPLAY.\n"
            f"{exc.message_ko} 데스크톱에서 실행하거나 `ssh -X`로 접속하거나 DISPLAY를 설정하세요."
        )
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Add the `dashboard` command to the app."""
    app.command()(dashboard)
