"""The conversation: POST /api/ask."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import BrainDep, CallerDep
from api.errors import status_of
from api.schemas import AskRequest
from core.echo_brain import EchoBrain
from core.errors import EchoBrainError
from core.origin import Caller

router = APIRouter(prefix="/api", tags=["conversation"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post("/ask", response_model=None)
async def ask(
    body: AskRequest, brain: BrainDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse | StreamingResponse:
    """Fan the prompt out to the three circuits and merge their replies (or stream them)."""
    brain.check_prompt(body.prompt)
    brain.authorize(body.prompt, caller)
    if body.stream:
        return StreamingResponse(
            _events(brain, body.prompt, caller, idempotency_key),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await brain.ask(body.prompt, caller=caller, idempotency_key=idempotency_key)
    status = 201 if answer.kind == "create" else 200
    return JSONResponse(answer.as_dict(), status_code=status)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _events(
    brain: EchoBrain, prompt: str, caller: Caller, key: str | None
) -> AsyncIterator[str]:
    """`delta` events {circuit, text} as tokens arrive, then one `done` event with the document."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def on_delta(circuit: str, text: str) -> None:
        await queue.put(_sse("delta", {"circuit": circuit, "text": text}))

    async def run() -> None:
        try:
            answer = await brain.ask(prompt, caller=caller, idempotency_key=key, on_delta=on_delta)
            await queue.put(_sse("done", answer.as_dict()))
        except EchoBrainError as exc:
            error = {
                "status": status_of(exc),
                "code": exc.code,
                "message": exc.message,
                "message_ko": exc.message_ko,
            }
            await queue.put(_sse("error", {"error": error}))
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    try:
        while (item := await queue.get()) is not None:
            yield item
    finally:
        if not task.done():
            task.cancel()
