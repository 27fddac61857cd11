"""What the port answers before the app exists: liveness, and /ready as 503 while booting.

Shared by `api.front` (inside uvicorn) and `api.early` (before uvicorn); standard library and
the personas' names only, so that it costs nothing to import at launch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from llm.personas import PERSONAS


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("echo-brain")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def booting_ready() -> dict[str, Any]:
    """/ready's document before the app exists: nothing started yet."""
    return {
        "ready": False,
        "booting": True,
        "replay": {"state": "pending", "lines": 0, "parts": 0, "error": None, "duration_s": None},
        "circuits": {name: {"state": "pending", "error": None} for name in PERSONAS},
    }


def early_answer(method: str, path: str, version: str,
                 booting_ready: Callable[[], dict[str, Any]] | None,
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of a request answered before the app exists.

    `/` and `/health`: 200 as the app answers them; `/ready`: 503 and the booting document;
    anything else: 503 `not_ready` with Retry-After (only `api.early` asks for those).
    """
    status = 200
    if path == "/health":
        doc: dict[str, Any] = {"status": "ok"}
    elif path == "/":
        doc = {"name": "echo-brain", "status": "ok", "version": version, "booting": True,
               "docs": "/docs", "ui": "/ui"}
    elif path == "/ready" and booting_ready is not None:
        status, doc = 503, booting_ready()
    else:
        status, doc = 503, {"error": {"code": "not_ready",
                                      "message": "starting, retry in a second",
                                      "message_ko": "시작하는 중입니다. 잠시 후 다시 시도하세요"}}
    body = json.dumps(doc, ensure_ascii=False).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    if status == 503:
        headers.append(("retry-after", "1"))
    return status, headers, b"" if method == "HEAD" else body
