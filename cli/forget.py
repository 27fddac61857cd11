"""`echo-brain forget`: the origin removes lines, turns or a guest's tree from everywhere."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import console, err_console, report, settings_or_exit

if TYPE_CHECKING:
    from core.memory.forget import Forgetter
    from core.memory.rows import SearchHit


def forget(
    path: Annotated[str | None, typer.Option(
        "--path", help="Part file as search names it, e.g. day0320/user/part2.txt / 파트 경로",
    )] = None,
    line: Annotated[int | None, typer.Option(
        "--line", min=1, help="1-based line in the part / 줄 번호")] = None,
    turn: Annotated[bool, typer.Option(
        "--turn", help="The whole turn of the line, header included / 대화 차례 전체")] = False,
    search: Annotated[str | None, typer.Option(
        "--search", help="Find lines by a phrase, then choose / 문구로 찾아 고르기")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100,
                                   help="Search results to show / 검색 결과 수")] = 20,
    guest: Annotated[str | None, typer.Option(
        "--guest", help="A guest's whole tree / 손님의 기억 전체")] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Do not ask for confirmation / 확인 없이")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON / JSON으로 출력")] = False,
) -> None:
    """Forget memory everywhere it is kept: part, backup, index, vectors; audited (origin only).
    / 기억을 모든 곳(파트, 백업, 색인, 벡터)에서 지웁니다. 감사 기록에 남습니다."""
    modes = [m for m in (path, search, guest) if m is not None]
    if len(modes) != 1 or (path is not None) != (line is not None):
        report("give exactly one of --path with --line, --search, or --guest",
               "--path와 --line, --search, --guest 중 하나만 주세요")
        raise typer.Exit(2)
    from core.errors import EchoBrainError
    from core.memory.forget import Forgetter

    forgetter = Forgetter(settings_or_exit(), who="cli")
    try:
        forgetter.recover()
        if guest is not None:
            done = _guest(forgetter, guest, yes)
        elif search is not None:
            done = _search(forgetter, search, k, turn, yes, as_json)
        else:
            assert path is not None and line is not None
            done = _line(forgetter, path, line, turn, yes)
    except EchoBrainError as exc:
        report(exc.message, exc.message_ko)
        raise typer.Exit(1) from None
    finally:
        forgetter.close()
    _print(done, as_json)


def _confirm(question: str, yes: bool) -> bool:
    return yes or typer.confirm(question, default=False, err=True)


def _line(forgetter: Forgetter, path: str, line: int, turn: bool, yes: bool) -> list[Any]:
    from core.memory.forget.plan import parse_target, part_file, physical_lines

    target = parse_target(path)
    raw = physical_lines(part_file(forgetter.memory_dir, target).read_bytes())
    if line <= len(raw):
        err_console.print(f"{target.rel}:{line}  {raw[line - 1].decode('utf-8', 'replace')[:200]}",
                          highlight=False)
    what = "the whole turn of this line / 이 줄의 대화 차례 전체" if turn else "this line / 이 줄"
    if not _confirm(f"Forget {what}?", yes):
        return []
    return [forgetter.forget(target.rel, [line], turn)]


def _search(forgetter: Forgetter, query: str, k: int, turn: bool, yes: bool,
            as_json: bool) -> list[Any]:
    hits = forgetter.index.search(query, k)
    if not hits:
        report(f"no line matches {query!r}", f"{query!r}와 맞는 줄이 없습니다")
        raise typer.Exit(1)
    if not as_json or not yes:
        _table(hits)
    chosen = list(range(len(hits)))
    if not yes:
        answer = typer.prompt("Forget which? all, none, or numbers like 1,3 / "
                              "어느 것을? all, none, 또는 1,3", default="none", err=True)
        chosen = _choice(answer, len(hits))
    prefix = forgetter.memory_dir.name + "/"
    done = []
    for i in chosen:
        hit = hits[i]
        rel = hit.path.removeprefix(prefix)
        done.append(forgetter.forget(rel, [hit.line], turn))
    return done


def _choice(answer: str, count: int) -> list[int]:
    answer = answer.strip().lower()
    if answer in ("all", "a", "전부"):
        return list(range(count))
    picked = []
    for item in answer.replace(" ", "").split(","):
        if item.isdigit() and 1 <= int(item) <= count:
            picked.append(int(item) - 1)
    return sorted(set(picked))


def _guest(forgetter: Forgetter, name: str, yes: bool) -> list[Any]:
    question = f"Forget everything guest {name!r} said? / 손님 {name!r}의 기억을 모두 지울까요?"
    if not _confirm(question, yes):
        return []
    return [forgetter.forget_guest(name)]


def _table(hits: list[SearchHit]) -> None:
    from rich.table import Table

    table = Table("#", "part", "line", "speaker", "text", title="matches / 찾은 줄")
    for i, hit in enumerate(hits, start=1):
        table.add_row(str(i), hit.path, str(hit.line), hit.speaker or "", hit.text[:120])
    err_console.print(table)


def _print(done: list[Any], as_json: bool) -> None:
    docs = [d.as_dict() for d in done]
    if as_json:
        console.print_json(json.dumps({"forgotten": docs}, ensure_ascii=False))
        return
    if not docs:
        console.print("nothing forgotten / 잊은 것이 없습니다")
    for doc in docs:
        where = doc.get("guest") or f"{doc['path']} lines {doc['lines']}"
        console.print(f"forgotten / 잊음: {where} (audit id {doc['id']})")


def register(app: typer.Typer) -> None:
    """Add `forget` to the app."""
    app.command("forget")(forget)
