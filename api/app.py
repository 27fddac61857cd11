"""The app factory and its lifespan: circuits load and the replay runs in the background."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI

from api.deps import Runtime
from api.docs import install_docs
from api.errors import install_error_handlers
from api.hosts import HostAllowlist
from api.limits import BodyLimit
from api.metrics import Metrics, MetricsMiddleware
from api.routes import ask, forget, health, memory, openai, ui
from api.routes import metrics as metrics_route
from api.schemas import error_responses
from core.boot_memory_loop import ReplayStatus, start_replay
from core.circuits import build_circuits
from core.echo_brain import EchoBrain
from core.fsio import PRIVATE_UMASK, tighten
from core.gate import allowed_hosts
from core.identity import load_manifests
from core.memory.callers import CallerMemory
from core.memory.index import MemoryIndex
from core.memory.recall.analyzer_process import AnalyzerProcess
from core.memory.recall.background import RecallBackground
from core.memory.recall.embed import prepare_engine
from core.memory.recall.fusion import Recaller
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


def _private_files(settings: Settings) -> Callable[[], None]:
    """Everything the server writes is private (0600 files, 0700 folders), the memory first.

    The umask covers what no code of ours writes (SQLite and its -wal/-shm, the circuits'
    worker processes and their prefix cache); what an older version left readable to others
    is tightened once here. The umask is restored on the way out.
    """
    previous = os.umask(PRIVATE_UMASK)
    roots = (settings.memory_dir, settings.memory_backup_dir, settings.origin_dir,
             settings.prefix_cache_dir)
    changed = sum(tighten(root) for root in roots)
    if changed:
        log.info("made %d files and folders private (0600/0700) / 파일 권한을 비공개로", changed)

    def restore() -> None:
        os.umask(previous)

    return restore


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start loading the circuits and the replay; free the models on the way out."""
    settings: Settings = app.state.settings
    unredact = _redact_logs(settings)
    # the e5 engine's settings live in the environment while its library loads: now, before
    # any circuit worker is started with a copy of the environment, never later
    await asyncio.to_thread(prepare_engine)
    public_again = _private_files(settings)
    manifests = load_manifests(settings.manifest_dir)
    circuits = build_circuits(settings, manifests)
    for circuit in circuits.values():
        circuit.start_loading()
    replay = ReplayStatus()
    start_replay(settings, replay)
    index = MemoryIndex(settings.memory_dir)
    analyzer = AnalyzerProcess()  # Kiwi holds the GIL while it loads: not in this process
    recaller = Recaller(index, analyzer=analyzer, wait_for_models=False,
                        year=settings.memory_year)
    recall = RecallBackground(
        recaller, replay, indexer=settings.recall_indexer, nice=settings.recall_nice,
        analyzer=analyzer,
        settled=lambda: all(c.state in ("ready", "failed") for c in circuits.values()),
    )
    recall.start()
    memory = CallerMemory(settings, MemoryStore(settings, index))
    brain = EchoBrain(
        settings,
        circuits,
        memory=memory,
        context=recaller,
        manifests=manifests,
        observer=app.state.metrics.observe_circuit,
    )
    app.state.runtime = Runtime(
        settings, circuits, brain, replay=replay, index=index, recaller=recaller, recall=recall,
        memory=memory,
    )
    log.info("echo-brain %s starting: replay and circuits loading in the background", app.version)
    try:
        yield
    finally:
        await asyncio.gather(
            asyncio.to_thread(recall.stop), *(asyncio.to_thread(c.close) for c in circuits.values())
        )
        recaller.close()
        memory.close()
        index.close()
        unredact()
        public_again()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing heavy happens until the lifespan starts."""
    settings = settings or load_settings()
    app = FastAPI(
        title="Echo Brain",
        version=_version(),
        summary="Three local GGUF circuits, one companion / 세 회로, 하나의 동반자",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves them from local files
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics(lambda: getattr(app.state, "runtime", None))
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(MetricsMiddleware, metrics_of=lambda: app.state.metrics)
    app.add_middleware(HostAllowlist, allowed=allowed_hosts(settings))  # outermost
    routers = (health.router, ask.router, memory.router, forget.router, metrics_route.router,
               ui.router)
    for router in routers:
        app.include_router(router)
    openai_errors = error_responses(401, 403, 404, 413, 422, 429, 503, 507)
    app.include_router(openai.router, responses=openai_errors)
    app.mount("/ui", ui.static_files(), name="ui-files")
    install_docs(app)
    return app
