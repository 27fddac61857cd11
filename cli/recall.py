"""`echo-brain recall "..."`: the remembered lines a prompt would bring to the circuits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, report, settings_or_exit

if TYPE_CHECKING:
    from core.memory.recall.lines import RecallHit

PATHS = ("fused", "morpheme", "dense", "trigram")


def recall(
    prompt: Annotated[str, typer.Argument(help="A prompt / 프롬프트")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Lines to show / 줄 수")] = 10,
    path: Annotated[
        str, typer.Option(help="fused, morpheme, dense or trigram / 검색 경로")
    ] = "fused",
    memory_dir: Annotated[
        Path | None, typer.Option("--memory-dir", help="The archive (default ECHO_MEMORY_DIR)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON / JSON으로 출력")] = False,
) -> None:
    """Show what memory a prompt recalls, best first / 프롬프트가 떠올리는 기억을 보여 줍니다."""
    if path not in PATHS:
        report(f"unknown path {path!r}: use {', '.join(PATHS)}",
               f"알 수 없는 경로입니다: {', '.join(PATHS)} 중 하나를 쓰세요")
        raise typer.Exit(2)
    if not prompt.strip():
        report("the prompt is empty", "프롬프트가 비어 있습니다")
        raise typer.Exit(2)
    settings = settings_or_exit()
    folder = memory_dir or settings.memory_dir
    from core.memory.index import DB_NAME, MemoryIndex
    from core.memory.recall.fusion import Recaller

    if not (folder / DB_NAME).exists():
        report(f"no index in {folder}: run `echo-brain replay` first",
               f"{folder}에 색인이 없습니다. 먼저 `echo-brain replay`를 실행하세요")
        raise typer.Exit(1)
    recaller = Recaller(MemoryIndex(folder), year=settings.memory_year)
    try:
        hits = recaller.recall(prompt, k, path)
    finally:
        recaller.close()
    if as_json:
        doc = {"query": prompt, "path": path, "results": [h.as_dict() for h in hits]}
        console.print_json(json.dumps(doc, ensure_ascii=False))
        return
    _table(hits)


def _table(hits: list[RecallHit]) -> None:
    from rich.table import Table

    table = Table("#", "day", "part", "line", "speaker", "text", "morpheme", "dense", "trigram",
                  title="recall / 회상")
    for i, hit in enumerate(hits, start=1):
        ranks = [str(hit.ranks.get(p) or "-") for p in PATHS[1:]]
        table.add_row(str(i), hit.day, str(hit.part), str(hit.line), hit.speaker,
                      hit.text[:120], *ranks)
    console.print(table)
    if not hits:
        console.print("nothing recalled / 떠오른 기억이 없습니다")


def register(app: typer.Typer) -> None:
    """Add `recall` to the app."""
    app.command("recall")(recall)
