"""The deploy commands of `echo-brain`: fetch-models, plan, scan, zip."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table
from tqdm import tqdm

from cli.common import console, err_console, report, settings_or_exit
from core.deploy import fetch
from core.deploy import zip as deploy_zip
from core.deploy.models import ModelEntry, load_models_manifest, resolve_circuits
from core.deploy.plan import GIB, VramPlan, build_plan
from core.deploy.scan import run_scan
from core.errors import ConfigError, EchoBrainError
from core.settings import load_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout")]


def _report(exc: EchoBrainError) -> None:
    report(exc.message, exc.message_ko)


def _fail(exc: EchoBrainError, code: int = 1) -> typer.Exit:
    _report(exc)
    return typer.Exit(code)


def _emit_json(doc: object) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))


def _gib(n: int | float | None) -> str:
    return "-" if not n else f"{n / GIB:.2f}"


def _rich_tqdm(progress: Progress) -> fetch.ProgressFactory:
    """A tqdm class per file that forwards huggingface_hub's progress to a rich bar."""

    def factory(description: str) -> type[tqdm]:
        class RichBar(tqdm):  # type: ignore[type-arg]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["disable"] = True
                super().__init__(*args, **kwargs)
                self._task = progress.add_task(description, total=kwargs.get("total"),
                                               completed=kwargs.get("initial") or 0)

            def update(self, n: float | None = 1) -> bool | None:
                progress.advance(self._task, n or 0)
                return None

        return RichBar

    return factory


def fetch_models(
    as_json: JsonOpt = False,
    check: Annotated[
        bool, typer.Option("--check", help="Only report; exit 1 if a file is missing")
    ] = False,
    manifest: Annotated[Path | None, typer.Option(help="models.toml to read")] = None,
) -> None:
    """Download the configured models into ECHO_MODELS_DIR / 설정된 모델을 내려받습니다."""
    settings = settings_or_exit()
    try:
        models = load_models_manifest(manifest)
    except ConfigError as exc:
        raise _fail(exc, 2) from None
    targets = fetch.fetch_targets(resolve_circuits(settings, models))
    results: dict[Path, str] = {}
    errors: dict[Path, EchoBrainError] = {}
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=err_console, disable=as_json) as progress:
        for target in targets:
            if target.status == "present":
                results[target.dest] = "skipped (present)"
                continue
            if check:
                results[target.dest] = target.status
                continue
            try:
                fetch.fetch_one(target, None if as_json else _rich_tqdm(progress))
                results[target.dest] = "downloaded"
            except EchoBrainError as exc:
                results[target.dest], errors[target.dest] = "failed / 실패", exc
                if not as_json:
                    _report(exc)
    ok = all(r in ("downloaded", "skipped (present)") for r in results.values())
    if as_json:
        _emit_json({"ok": ok, "models_dir": str(settings.models_dir), "files": [
            {"file": t.dest.name, "path": str(t.dest), "circuits": t.circuits,
             "source": _source(t.entry), "size": t.size, "expected_size": _expected(t.entry),
             "result": results[t.dest], "error": _error_doc(errors.get(t.dest))}
            for t in targets]})
    else:
        table = Table("file", "circuits", "source", "expected", "result",
                      title=f"models / 모델 → {settings.models_dir}")
        for t in targets:
            table.add_row(t.dest.name, ", ".join(t.circuits), _source(t.entry),
                          _expected(t.entry), results[t.dest])
        console.print(table)
        if not targets:
            console.print("no local model files configured (echo / remote) / 받을 파일 없음")
    raise typer.Exit(0 if ok else 1)


def _error_doc(exc: EchoBrainError | None) -> dict[str, str] | None:
    if exc is None:
        return None
    return {"code": exc.code, "message": exc.message, "message_ko": exc.message_ko}


def _source(entry: ModelEntry | None) -> str:
    if entry is None:
        return "not in models.toml"
    return f"hf:{entry.repo_id}" if entry.repo_id else f"pypi:{entry.wheel.partition(':')[0]}"


def _expected(entry: ModelEntry | None) -> str:
    if entry is None or entry.expected_size is None:
        return "?"
    return f"{'' if entry.size is not None else '≈ '}{entry.expected_size / 1e9:.2f} GB"


def plan_table(plan: VramPlan) -> Table:
    """The VRAM plan as a table (GiB)."""
    table = Table("circuit", "model", "quant", "layers", "kv×dim", "weights", "KV",
                  "extra", "total", "→GPU",
                  title=f"VRAM plan / VRAM 계획 (n_ctx {plan.n_ctx}, GiB)")
    for c in plan.circuits:
        layers = {None: "-", -1: "all"}.get(c.n_gpu_layers, str(c.n_gpu_layers))
        model = c.error or c.model
        table.add_row(c.circuit, model, c.quantization or c.kind, str(c.layers or "-"),
                      f"{c.head_count_kv}×{c.head_dim}" if c.layers else "-",
                      _gib(c.weights_bytes), _gib(c.kv_bytes), _gib(c.overhead_bytes),
                      _gib(c.total_bytes), layers)
    table.columns[1].overflow = "fold"
    table.caption = ("weights + KV cache (f16) + extra (compute overhead estimate); →GPU = "
                     "suggested ECHO_N_GPU_LAYERS / 가중치 + KV 캐시 + 추가 메모리 추정")
    return table


def plan_verdict(plan: VramPlan) -> str:
    """One bilingual line: fits, or the offload suggestion."""
    total = f"total {_gib(plan.total_bytes)} GiB"
    if plan.gpu_bytes is None:
        return f"{total}; no GPU detected (use --gpu-gb) / GPU 없음 (--gpu-gb로 지정)"
    gpu = f"GPU {_gib(plan.gpu_bytes)} GiB ({plan.gpu_source})"
    if plan.fits:
        return f"{total} of {gpu}: fits / 모두 GPU에 들어갑니다 (ECHO_N_GPU_LAYERS=-1)"
    return (f"{total} of {gpu}: does not fit, offload partly / 일부만 GPU에 올리세요: "
            f"ECHO_N_GPU_LAYERS={plan.suggested_n_gpu_layers}")


def plan(
    n_ctx: Annotated[
        int | None, typer.Option(min=1, help="Context length (default ECHO_N_CTX)")
    ] = None,
    gpu_gb: Annotated[
        float | None, typer.Option(min=0, help="GPU memory in GiB (default: detected)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """VRAM budget of the configured models from their GGUF headers / VRAM 예산을 계산합니다."""
    settings = settings_or_exit()
    try:
        models = load_models_manifest()
    except ConfigError:
        models = None
    vram = build_plan(resolve_circuits(settings, models), n_ctx or settings.n_ctx, gpu_gb)
    if as_json:
        _emit_json(vram.to_dict())
    else:
        console.print(plan_table(vram))
        console.print(plan_verdict(vram), highlight=False)
    raise typer.Exit(1 if any(c.error for c in vram.circuits) else 0)


def scan(as_json: JsonOpt = False) -> None:
    """Diagnose this machine and configuration; exit 1 on a blocking problem / 진단합니다."""
    report = run_scan()
    if as_json:
        _emit_json(report.to_dict())
    else:
        colors = {"ok": "green", "warn": "yellow", "fail": "red"}
        table = Table("section", "check", "", "detail", title="echo-brain scan / 진단")
        for c in report.checks:
            table.add_row(c.section, c.name, f"[{colors[c.level]}]{c.level}[/]", c.detail)
        console.print(table)
        if report.plan:
            console.print(plan_table(report.plan))
            console.print(plan_verdict(report.plan), highlight=False)
        verdict = ("[red]blocking problem: fix the failed checks / 막는 문제가 있습니다[/red]"
                   if report.blocking else "[green]ready to serve / 실행 준비 완료[/green]")
        console.print(verdict)
    raise typer.Exit(1 if report.blocking else 0)


def _configured_tokens() -> list[str]:
    try:
        s = load_settings()
        secrets = [s.origin_token, s.access_token]
        return [t.get_secret_value() for t in secrets if t is not None]
    except ConfigError:
        return [os.environ.get(v, "") for v in ("ECHO_ORIGIN_TOKEN", "ECHO_ACCESS_TOKEN")]


def zip_command(
    out: Annotated[Path | None, typer.Option(help="Output folder (default <root>/dist)")] = None,
    no_memory: Annotated[bool, typer.Option("--no-memory", help="Leave the archive out")] = False,
    with_origin_model: Annotated[
        bool,
        typer.Option(
            "--with-origin-model",
            help="Also pack the model trained on memory (models/origin/; as private as memory)",
        ),
    ] = False,
    with_lora: Annotated[
        bool,
        typer.Option(
            "--with-lora",
            help="Also pack the LoRA adapters (models/lora/**: *.gguf and tune.json; "
            "learned from memory, as private as memory)",
        ),
    ] = False,
    root: Annotated[
        Path | None, typer.Option(help="Project root (default: found from here)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the deploy zip dist/echo-brain-<version>.zip / 배포용 zip을 만듭니다."""
    project = deploy_zip.find_root(root)
    try:
        report = deploy_zip.write_zip(project, out or project / "dist", not no_memory,
                                      _configured_tokens(), with_origin_model=with_origin_model,
                                      with_lora=with_lora)
    except EchoBrainError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        raise _fail(deploy_zip.ZipError(f"Cannot write the zip: {exc}.",
                                        f"zip을 쓸 수 없습니다: {exc}.")) from None
    if as_json:
        _emit_json({"path": str(report.path), "size": report.size, "files": report.files})
    else:
        console.print(f"[green]{report.path}[/green]: {report.size / 1e6:.2f} MB, "
                      f"{report.files} files / 파일 {report.files}개, checked / 검사 완료",
                      highlight=False)


def register(app: typer.Typer) -> None:
    """Add fetch-models, plan, scan and zip to the echo-brain app."""
    app.command("fetch-models")(fetch_models)
    app.command("plan")(plan)
    app.command("scan")(scan)
    app.command("zip")(zip_command)
