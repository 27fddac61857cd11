"""Origin-only forgetting: a line, a whole turn, or a guest's whole tree, everywhere it is kept."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import OriginDep, Runtime, RuntimeDep
from api.schemas import error_responses
from core.memory.forget import Forgetter, Forgotten

router = APIRouter(
    prefix="/api/memory", tags=["forget"], responses=error_responses(401, 403, 404, 422)
)

Day = Annotated[
    str, Path(pattern=r"^day\d{4}$", description="Day folder, e.g. day0320 / 날짜 폴더")
]
Part = Annotated[int, Path(ge=1, le=999_999_999, description="Part number / 파트 번호")]
Line = Annotated[int, Path(ge=1, le=10_000_000, description="1-based line in the part / 줄 번호")]
Speaker = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z0-9_-]{1,64}$",
          description="Speaker folder of the part (user for the server's turns) / 화자 폴더"),
]
GuestName = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="The guest's name / 손님 이름")
]


def _rel(day: str, part: int, speaker: str | None) -> str:
    return "/".join(p for p in (day, speaker, f"part{part}.txt") if p)


def _forget(runtime: Runtime, rel: str, line: int, turn: bool) -> Forgotten:
    return Forgetter(runtime.settings, runtime.index, who="origin").forget(rel, [line], turn)


@router.delete("/lines/{day}/{part}/{line}")
async def forget_line(
    runtime: RuntimeDep, origin: OriginDep, day: Day, part: Part, line: Line,
    speaker: Speaker = None,
) -> dict[str, Any]:
    """Forget one line of the archive everywhere it is kept (origin only)."""
    done = await asyncio.to_thread(_forget, runtime, _rel(day, part, speaker), line, False)
    return done.as_dict()


@router.delete("/turns/{day}/{part}/{line}")
async def forget_turn(
    runtime: RuntimeDep, origin: OriginDep, day: Day, part: Part, line: Line,
    speaker: Speaker = None,
) -> dict[str, Any]:
    """Forget the whole turn holding a line, its header included (origin only)."""
    done = await asyncio.to_thread(_forget, runtime, _rel(day, part, speaker), line, True)
    return done.as_dict()


@router.delete("/guests/{name}")
async def forget_guest(runtime: RuntimeDep, origin: OriginDep, name: GuestName) -> dict[str, Any]:
    """Forget a guest's whole tree: turns, backup and index (origin only)."""
    forgetter = Forgetter(runtime.settings, who="origin")
    try:
        done = await asyncio.to_thread(forgetter.forget_guest, name)
    finally:
        forgetter.close()
    return done.as_dict()
