"""`echo-brain replay` without typer: the fast path, and the run both paths share.

The replay runs at every boot and is timed as a whole process, so this module imports
neither typer, rich nor pydantic: `replay --json` with both folders given loads none of
them (a test holds it to that). rich comes in only to draw a bar, a summary or an error,
pydantic only when a folder comes from the settings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def fast_replay(argv: list[str]) -> int | None:
    """Run `replay [--memory-dir D] [--manifest-dir M] [--json] [--enrich]`; None = typer's."""
    options: dict[str, str] = {}
    as_json = enrich = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if arg == "--json":
            as_json = True
        elif arg == "--enrich":
            enrich = True
        elif name in ("--memory-dir", "--manifest-dir") and (eq or args):
            options[name] = value if eq else args.pop(0)
        else:
            return None
    memory_dir = options.get("--memory-dir")
    manifest_dir = options.get("--manifest-dir")
    return run_replay(
        Path(memory_dir) if memory_dir else None, Path(manifest_dir) if manifest_dir else None,
        as_json, enrich,
    )


def run_replay(
    memory_dir: Path | None, manifest_dir: Path | None, as_json: bool, enrich: bool = False
) -> int:
    """Replay the archive, print insight.json (--json) or a summary; the exit code.

    `enrich`: then fill the recall index (morphemes and vectors) now, not in the server.
    """
    if memory_dir is None or manifest_dir is None:
        from cli.common import settings_or_exit

        settings = settings_or_exit()
        memory_dir = memory_dir or settings.memory_dir
        manifest_dir = manifest_dir or settings.manifest_dir
    from core.boot_memory_loop import replay_archive

    try:
        if as_json or not sys.stderr.isatty():
            insight = replay_archive(memory_dir, manifest_dir)
        else:
            insight = _with_progress(memory_dir, manifest_dir)
        if enrich:
            _enrich(memory_dir, bar=not as_json and sys.stderr.isatty())
    except Exception as exc:
        from cli.common import report

        report(f"replay failed: {exc}", f"복기에 실패했습니다: {exc}")
        return 1
    if as_json:
        sys.stdout.write(json.dumps(insight, ensure_ascii=False, indent=2) + "\n")
    else:
        _summary(insight)
        _recall_summary(memory_dir)
    return 0


def _enrich(memory_dir: Path, bar: bool) -> None:
    from core.memory.recall.enrich import enrich_all

    if not bar:
        enrich_all(memory_dir)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from cli.common import err_console

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("recall index / 회상 색인", total=None)
        enrich_all(memory_dir, lambda done, total: progress.update(task, completed=done,
                                                                   total=total))


def _recall_summary(memory_dir: Path) -> None:
    from cli.common import console
    from core.memory.recall.indexer import read_progress

    doc = read_progress(memory_dir)
    if doc is None:
        console.print("recall index / 회상 색인: not built yet (the server builds it in the "
                      "background, or `replay --enrich`) / 아직 없음")
        return
    rate = doc.get("lines_per_s")
    speed = f", {rate} lines/s" if rate else ""
    console.print(
        f"recall index / 회상 색인: {doc.get('done', 0)}/{doc.get('total', 0)} lines with vectors "
        f"/ 벡터, {doc.get('morph_done', 0)} with morphemes / 형태소{speed}"
    )


def _with_progress(memory_dir: Path, manifest_dir: Path) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cli.common import err_console
    from core.boot_memory_loop import replay_archive

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("replaying parts / 복기 중", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return replay_archive(memory_dir, manifest_dir, progress=step)


def _summary(insight: dict[str, Any]) -> None:
    from rich.table import Table

    from cli.common import console

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
