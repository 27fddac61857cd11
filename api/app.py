"""The app factory and its lifespan: circuits load and the replay runs in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI

from api.deps import Runtime
from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.metrics import Metrics, MetricsMiddleware
from api.routes import ask, forget, health, memory, openai, ui
from api.routes import metrics as metrics_route
from api.schemas import error_responses
from core.boot_memory_loop import ReplayStatus, start_replay
from core.circuits import build_circuits
from core.echo_brain import EchoBrain
from core.identity import load_manifests
from core.memory.analyzer_process import AnalyzerProcess
from core.memory.background import RecallBackground
from core.memory.index import MemoryIndex
from core.memory.recall import Recaller
from core.memory_core import MemoryStore
from core.origin import TokenRedactingFilter
from core.settings import Settings, load_settings

log = logging.getLogger("echo_brain")


def _version() -> str:
    try:
        return metadata.version("echo-brain")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _redact_logs(settings: Settings) -> Callable[[], None]:
    """Hide token values from every log handler (a safety net: nothing should log them)."""
    redactor = TokenRedactingFilter(settings)
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    handlers = {h for name in names for h in logging.getLogger(name).handlers}
    for handler in handlers:
        handler.addFilter(redactor)

    def remove() -> None:
        for handler in handlers:
            handler.removeFilter(redactor)

    return remove


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start loading the circuits and the replay; free the models on the way out."""
    settings: Settings = app.state.settings
    unredact = _redact_logs(settings)
    manifests = load_manifests(settings.manifest_dir)
    circuits = build_circuits(settings, manifests)
    for circuit in circuits.values():
        circuit.start_loading()
    replay = ReplayStatus()
    start_replay(settings, replay)
    index = MemoryIndex(settings.memory_dir)
    analyzer = AnalyzerProcess()  # Kiwi holds the GIL while it loads: not in this process
    recaller = Recaller(index, analyzer=analyzer, wait_for_models=False)
    recall = RecallBackground(
        recaller, replay, indexer=settings.recall_indexer, nice=settings.recall_nice,
        analyzer=analyzer,
        settled=lambda: all(c.state in ("ready", "failed") for c in circuits.values()),
    )
    recall.start()
    brain = EchoBrain(
        settings,
        circuits,
        memory=MemoryStore(settings, index),
        context=recaller,
        manifests=manifests,
        observer=app.state.metrics.observe_circuit,
    )
    app.state.runtime = Runtime(
        settings, circuits, brain, replay=replay, index=index, recaller=recaller, recall=recall
    )
    log.info("echo-brain %s starting: replay and circuits loading in the background", app.version)
    try:
        yield
    finally:
        await asyncio.gather(
            asyncio.to_thread(recall.stop), *(asyncio.to_thread(c.close) for c in circuits.values())
        )
        recaller.close()
        index.close()
        unredact()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing heavy happens until the lifespan starts."""
    settings = settings or load_settings()
    app = FastAPI(
        title="Echo Brain",
        version=_version(),
        summary="Three local GGUF circuits, one companion / 세 회로, 하나의 동반자",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = Metrics(lambda: getattr(app.state, "runtime", None))
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(MetricsMiddleware, metrics_of=lambda: app.state.metrics)
    routers = (health.router, ask.router, memory.router, forget.router, metrics_route.router,
               ui.router)
    for router in routers:
        app.include_router(router)
    openai_errors = error_responses(401, 403, 404, 413, 422, 429, 503, 507)
    app.include_router(openai.router, responses=openai_errors)
    app.mount("/ui", ui.static_files(), name="ui-files")
    return app
