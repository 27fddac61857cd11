"""Origin-only memory routes: search and the insight document."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import OriginDep, RuntimeDep
from core.errors import BadInput, NotFound

router = APIRouter(prefix="/api", tags=["memory"])


@router.get("/memory/search")
async def search(
    runtime: RuntimeDep,
    origin: OriginDep,
    q: Annotated[str, Query(max_length=1000, description="Words or a phrase / 검색어")],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """Best-matching archive lines with their day, part and line (origin only)."""
    if not q.strip():
        raise BadInput("q is empty", "검색어(q)가 비어 있습니다.")
    hits = await asyncio.to_thread(runtime.index.search, q, k)
    return {"query": q, "results": [hit.as_dict() for hit in hits]}


@router.get("/insight")
async def insight(runtime: RuntimeDep, origin: OriginDep) -> dict[str, Any]:
    """The insight document the boot replay wrote (origin only)."""
    path = runtime.settings.memory_dir / "insight.json"
    try:
        doc: dict[str, Any] = json.loads(await asyncio.to_thread(path.read_text, "utf-8"))
    except FileNotFoundError:
        raise NotFound(
            "no insight yet: the replay has not finished; see GET /ready",
            "아직 insight가 없습니다. 기억 재생이 끝나지 않았습니다 (GET /ready).",
        ) from None
    return doc
