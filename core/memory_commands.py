"""`echo-brain replay`: the boot replay alone, with a progress bar and a summary.

Kept light on imports (no FastAPI, no llama): it is timed as a whole process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    """Add the `replay` command to the echo-brain CLI."""
    app.command("replay")(replay)


def fast_replay(argv: list[str]) -> int | None:
    """Run `replay [--memory-dir D] [--manifest-dir M] [--json]` without typer; None = not ours.

    typer (which imports pydantic) costs more than a warm replay: cli/__init__.py's main()
    calls this first for `replay`, and falls back to typer for --help or anything else.
    """
    options: dict[str, str] = {}
    as_json = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if arg == "--json":
            as_json = True
        elif name in ("--memory-dir", "--manifest-dir") and (eq or args):
            options[name] = value if eq else args.pop(0)
        else:
            return None
    try:
        replay(
            Path(options["--memory-dir"]) if "--memory-dir" in options else None,
            Path(options["--manifest-dir"]) if "--manifest-dir" in options else None,
            as_json,
        )
    except typer.Exit as exc:
        return exc.exit_code
    return 0


def replay(
    memory_dir: Annotated[
        Path | None, typer.Option("--memory-dir", help="The archive (default ECHO_MEMORY_DIR)")
    ] = None,
    manifest_dir: Annotated[
        Path | None,
        typer.Option("--manifest-dir", help="Declarations (default ECHO_MANIFEST_DIR)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print insight.json to stdout")] = False,
) -> None:
    """Replay the memory archive into the search index / 기억 아카이브를 복기해 색인합니다."""
    if memory_dir is None or manifest_dir is None:
        memory_dir, manifest_dir = _configured_dirs(memory_dir, manifest_dir)
    from core.boot_memory_loop import replay_archive

    try:
        if as_json or not sys.stderr.isatty():
            insight = replay_archive(memory_dir, manifest_dir)
        else:
            insight = _with_progress(memory_dir, manifest_dir)
    except Exception as exc:
        _fail(f"replay failed: {exc}", f"복기에 실패했습니다: {exc}")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(insight, ensure_ascii=False, indent=2) + "\n")
    else:
        from rich.console import Console

        _summary(insight, Console())


def _fail(message: str, message_ko: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[red]{message}[/red]\n{message_ko}", markup=True)


def _configured_dirs(memory_dir: Path | None, manifest_dir: Path | None) -> tuple[Path, Path]:
    from core.errors import ConfigError
    from core.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(exc.message, exc.message_ko)
        raise typer.Exit(2) from None
    return memory_dir or settings.memory_dir, manifest_dir or settings.manifest_dir


def _with_progress(memory_dir: Path, manifest_dir: Path) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from core.boot_memory_loop import replay_archive

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("replaying parts / 복기 중", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return replay_archive(memory_dir, manifest_dir, progress=step)


def _summary(insight: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="memory replay / 기억 복기", show_header=True)
    table.add_column("what / 항목")
    table.add_column("value / 값", justify="right")
    rows = [
        ("days / 날짜 폴더", insight["days"]),
        ("parts / 파트", insight["parts"]),
        ("lines / 줄", insight["lines"]),
        ("first day / 첫날", insight["first_day"]),
        ("last day / 마지막 날", insight["last_day"]),
        ("parts read now / 이번에 읽은 파트", insight.get("parts_read", 0)),
        ("unchanged parts / 변경 없는 파트", insight.get("parts_unchanged", 0)),
        ("skipped / 건너뜀", len(insight["skipped"])),
        ("manifests / 선언문", len(insight.get("manifests", []))),
        ("seconds / 초", insight["duration_s"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    if insight["skipped"]:
        skipped = Table("path / 경로", "reason / 이유", title="skipped / 건너뛴 것")
        for item in insight["skipped"][:50]:
            skipped.add_row(item["path"], item["reason"])
        console.print(skipped)
    terms = ", ".join(t["term"] for t in insight["top_terms"][:12])
    console.print(f"top terms / 자주 나온 말: {terms}")
