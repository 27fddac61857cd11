"""The `echo-brain` typer app: serve, ask and replay here; the deploy commands registered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, err_console, settings_or_exit
from cli.replay import run_replay


def serve(
    host: Annotated[
        str | None, typer.Option(help="Listen address (default HOST or 0.0.0.0)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default PORT or 8000)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the server / 서버를 실행합니다."""
    from cli.serve import run

    settings = settings_or_exit()
    run(host or settings.host, port or settings.port, workers, log_level)


def ask(
    prompt: Annotated[str, typer.Argument(help="What to say / 할 말")],
    url: Annotated[str, typer.Option(help="Server base URL")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="ECHO_TOKEN", help="Bearer token (or ECHO_TOKEN)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON document")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait")] = 600.0,
) -> None:
    """Ask the server (POST /api/ask) / 서버에 묻습니다."""
    import httpx
    from rich.table import Table

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.post(
            url.rstrip("/") + "/api/ask", json={"prompt": prompt}, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        err_console.print(f"[red]cannot reach {url}: {exc}[/red]\n서버에 연결할 수 없습니다.")
        raise typer.Exit(1) from None
    try:
        doc = response.json()
    except ValueError:
        doc = {"error": {"message": response.text[:500], "message_ko": ""}}
    if as_json:
        console.print_json(json.dumps(doc, ensure_ascii=False))
    elif response.is_success:
        console.print(doc.get("reply", ""))
        table = Table("circuit", "status", "ms", "tokens")
        for name, c in doc.get("circuits", {}).items():
            table.add_row(name, c.get("status"), str(c.get("ms")), str(c.get("tokens")))
        if doc.get("circuits"):
            err_console.print(table)
    else:
        error = doc.get("error", {})
        err_console.print(f"[red]{response.status_code}: {error.get('message')}[/red]")
        err_console.print(error.get("message_ko", ""))
    raise typer.Exit(0 if response.is_success else 1)


def replay(
    memory_dir: Annotated[
        Path | None, typer.Option("--memory-dir", help="The archive (default ECHO_MEMORY_DIR)")
    ] = None,
    manifest_dir: Annotated[
        Path | None,
        typer.Option("--manifest-dir", help="Declarations (default ECHO_MANIFEST_DIR)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print insight.json to stdout")] = False,
    enrich: Annotated[
        bool, typer.Option("--enrich", help="Also build the recall index now (slow) / 회상 색인도")
    ] = False,
) -> None:
    """Replay the memory archive into the search index / 기억 아카이브를 복기해 색인합니다."""
    raise typer.Exit(run_replay(memory_dir, manifest_dir, as_json, enrich))


def build_app(argv: list[str]) -> typer.Typer:
    """The typer app. `replay` is timed at boot, so it skips the heavier deploy imports."""
    app = typer.Typer(
        name="echo-brain",
        help="Echo Brain: three local GGUF circuits, one companion / 세 회로, 하나의 동반자.",
        no_args_is_help=True,
        add_completion=False,
    )
    app.command()(serve)
    app.command()(ask)
    app.command("replay")(replay)
    if not argv[1:2] == ["replay"]:
        from cli import dashboard, deploy, forget, recall, train, tune

        recall.register(app)
        forget.register(app)
        deploy.register(app)
        train.register(app)
        tune.register(app)
        dashboard.register(app)
    return app
