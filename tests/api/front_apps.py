"""Apps for `api.front.Front` tests, built in a real uvicorn process (see test_front.py)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.errors import ConfigError


def slow() -> Starlette:
    """Takes FRONT_BUILD_S seconds to build; its lifespan writes FRONT_MARKS."""
    time.sleep(float(os.environ["FRONT_BUILD_S"]))
    marks = Path(os.environ["FRONT_MARKS"])

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        marks.write_text("started\n")
        yield
        marks.write_text(marks.read_text() + "stopped\n")

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True})

    async def root(request: Request) -> JSONResponse:
        return JSONResponse({"name": "echo-brain", "status": "ok", "booting": False})

    return Starlette(routes=[Route("/ready", ready), Route("/", root)], lifespan=lifespan)


def misconfigured() -> Starlette:
    """A bad setting found while building."""
    raise ConfigError("Bad configuration: ECHO_MERGE: no", "설정 값이 잘못되었습니다: ECHO_MERGE")
