"""Liveness and readiness: `/`, `/health`, `/ready`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import AuthHeader, Runtime, SettingsDep
from core.origin import is_origin_user

router = APIRouter(tags=["health"])
REPLAY_FIELDS = ("state", "lines", "parts", "duration_s")
CIRCUIT_FIELDS = ("state", "restarts", "warmup_s", "load_s")
RECALL_FIELDS = ("state", "done", "total", "morph_done", "lines_per_s", "eta_s")
HIDDEN_ERROR = (
    "failed; the origin's token shows why, and the server log / "
    "실패했습니다. 오리진 토큰으로 보거나 서버 로그에서 이유를 확인하세요"
)


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
async def ready(request: Request, settings: SettingsDep, authorization: AuthHeader = None
                ) -> JSONResponse:
    """200 once the replay is done and every circuit is loaded, else 503; same document.

    The origin (his token) sees everything; anyone else sees states and counts only.
    """
    doc = readiness(request.app.state.runtime)  # the lifespan sets it before any request
    if not is_origin_user(authorization, settings):
        doc = states_only(doc)
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


def states_only(doc: dict[str, Any]) -> dict[str, Any]:
    """The readiness document without paths, file names, backends or error texts.

    Kept by name (an allowlist), so a field added later shows only to the origin: states,
    counts and durations; an error becomes a fixed sentence that points at the origin's view.
    """
    replay = doc["replay"]
    return {
        "ready": doc["ready"],
        "replay": {**_picked(replay, REPLAY_FIELDS), "error": _hidden(replay.get("error"))},
        "circuits": {
            name: {**_picked(c, CIRCUIT_FIELDS), "error": _hidden(c.get("error"))}
            for name, c in doc["circuits"].items()
        },
        "recall": _picked(doc["recall"], RECALL_FIELDS),
    }


def _picked(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: doc[k] for k in fields if k in doc}


def _hidden(error: object) -> str | None:
    return None if error is None else HIDDEN_ERROR


def _is_ready(runtime: Runtime) -> bool:
    return bool(readiness(runtime)["ready"])
