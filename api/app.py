"""The app factory and its lifespan: circuits load and the replay runs in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI

from api.deps import Runtime
from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.routes import ask, health
from core.echo_brain import EchoBrain
from core.identity import load_manifests
from core.settings import Settings, load_settings
from llm.registry import build_circuits

log = logging.getLogger("echo_brain")


def _version() -> str:
    try:
        return metadata.version("echo-brain")
    except metadata.PackageNotFoundError:
        return "0.0.0"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start loading the circuits and the replay; free the models on the way out."""
    settings: Settings = app.state.settings
    circuits = build_circuits(settings)
    for circuit in circuits.values():
        circuit.start_loading()
    brain = EchoBrain(settings, circuits, manifests=load_manifests(settings.manifest_dir))
    app.state.runtime = Runtime(settings=settings, circuits=circuits, brain=brain)
    log.info("echo-brain %s starting: circuits loading in the background", app.version)
    try:
        yield
    finally:
        await asyncio.gather(*(asyncio.to_thread(c.close) for c in circuits.values()))


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
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.include_router(health.router)
    app.include_router(ask.router)
    return app
