"""Annotated dependency aliases: state reaches handlers from app.state, never module globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from core.boot_memory_loop import ReplayStatus
from core.echo_brain import EchoBrain
from core.memory.callers import CallerMemory
from core.memory.index import MemoryIndex
from core.memory.recall.background import RecallBackground
from core.memory.recall.fusion import Recaller
from core.origin import Caller, authenticate, require_origin
from core.settings import Settings
from llm.circuit import Circuit


@dataclass
class Runtime:
    """Everything the lifespan builds, kept on `app.state.runtime`."""

    settings: Settings
    circuits: dict[str, Circuit]
    brain: EchoBrain
    replay: ReplayStatus
    index: MemoryIndex
    recaller: Recaller
    recall: RecallBackground
    memory: CallerMemory


def get_runtime(request: Request) -> Runtime:
    """The app's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings(request: Request) -> Settings:
    """The app's settings (available before the lifespan finishes)."""
    settings: Settings = request.app.state.settings
    return settings


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_brain(runtime: RuntimeDep) -> EchoBrain:
    """The echo brain."""
    return runtime.brain


BrainDep = Annotated[EchoBrain, Depends(get_brain)]
AuthHeader = Annotated[str | None, Header(alias="Authorization", include_in_schema=False)]


def get_caller(settings: SettingsDep, authorization: AuthHeader = None) -> Caller:
    """Who is asking (401 when ECHO_ACCESS_TOKEN is set and no valid token came)."""
    return authenticate(authorization, settings)


def get_origin(settings: SettingsDep, authorization: AuthHeader = None) -> Caller:
    """The origin, or 401/403."""
    return require_origin(authorization, settings)


CallerDep = Annotated[Caller, Depends(get_caller)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
OriginDep = Annotated[Caller, Depends(get_origin)]
