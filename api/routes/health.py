"""Liveness and readiness: `/`, `/health`, `/ready`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import Runtime

router = APIRouter(tags=["health"])


@router.api_route("/", methods=["GET", "HEAD"])
async def root(request: Request) -> dict[str, Any]:
    """Answers at once, also while booting (RunPod's port probe)."""
    runtime = getattr(request.app.state, "runtime", None)
    return {
        "name": "echo-brain",
        "status": "ok",
        "version": request.app.version,
        "booting": runtime is None or not _is_ready(runtime),
        "docs": "/docs",
        "ui": "/ui",
    }


@router.get("/health")
async def health() -> dict[str, str]:
    """200 while the process lives."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready yet (same document)"}})
async def ready(request: Request) -> JSONResponse:
    """200 once the replay is done and every circuit is loaded, else 503; same document."""
    doc = readiness(request.app.state.runtime)  # the lifespan sets it before any request
    headers = {} if doc["ready"] else {"Retry-After": "5"}
    return JSONResponse(doc, status_code=200 if doc["ready"] else 503, headers=headers)


def readiness(runtime: Runtime) -> dict[str, Any]:
    """The readiness document: replay state, each circuit's state, the recall indexing.

    `recall` (morphemes and vectors, built in the background) never holds `ready` back.
    """
    replay = runtime.replay.snapshot()
    circuits = {name: c.snapshot() for name, c in runtime.circuits.items()}
    ok = replay["state"] == "done" and all(c["state"] == "ready" for c in circuits.values())
    recall = runtime.recall.progress()
    return {"ready": ok, "replay": replay, "circuits": circuits, "recall": recall}


def _is_ready(runtime: Runtime) -> bool:
    return bool(readiness(runtime)["ready"])
