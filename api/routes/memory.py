"""Origin-only memory routes: search, recall (his lines; guests' on request) and insight."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import OriginDep, RuntimeDep
from api.schemas import NOT_BLANK, error_responses
from core.errors import NotFound

router = APIRouter(prefix="/api", tags=["memory"], responses=error_responses(401, 403))
Words = Query(
    min_length=1, max_length=1000, pattern=NOT_BLANK, description="Words or a phrase / 검색어"
)


@router.get("/memory/search", responses=error_responses(422))
async def search(
    runtime: RuntimeDep,
    origin: OriginDep,
    q: Annotated[str, Words],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """Best-matching archive lines with their day, part and line (origin only)."""
    hits = await asyncio.to_thread(runtime.index.search, q, k)
    return {"query": q, "results": [hit.as_dict() for hit in hits]}


@router.get("/memory/recall", responses=error_responses(422))
async def recall(
    runtime: RuntimeDep,
    origin: OriginDep,
    q: Annotated[str, Query(min_length=1, max_length=4000, pattern=NOT_BLANK,
                            description="A prompt / 프롬프트")],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    path: Annotated[
        Literal["fused", "morpheme", "dense", "trigram"],
        Query(description="One search path alone, or all fused / 검색 경로"),
    ] = "fused",
    include: Annotated[
        Literal["guests"] | None,
        Query(description="'guests': guests' lines too, after the origin's, labelled with "
                          "the guest / 손님들의 줄도 (이름을 붙여) 함께"),
    ] = None,
) -> dict[str, Any]:
    """The lines a prompt would bring to the circuits, best first, with each path's rank.

    Only the origin's own lines unless `include=guests`: then each guest's lines follow
    his, labelled with the guest's name (`guest`)."""
    hits = await asyncio.to_thread(runtime.recaller.recall, q, k, path)
    results = [hit.as_dict() for hit in hits]
    if include == "guests":
        names = runtime.memory.guest_names()
        guests = await asyncio.to_thread(runtime.memory.lines_of, names, q, k)
        results += [line.as_dict() for line in guests]
    return {
        "query": q,
        "path": path,
        "results": results,
        "indexing": runtime.recall.progress(),
    }


@router.get("/insight", responses=error_responses(404))
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
