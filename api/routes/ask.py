"""The conversation: POST /api/ask."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import BrainDep, CallerDep
from api.schemas import AskRequest
from api.sse import Emit, error_fields, relay
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


def _events(brain: EchoBrain, prompt: str, caller: Caller, key: str | None) -> AsyncIterator[str]:
    """`delta` events {circuit, text} as tokens arrive, then one `done` event with the document."""

    async def produce(emit: Emit) -> None:
        async def on_delta(circuit: str, text: str) -> None:
            await emit(_sse("delta", {"circuit": circuit, "text": text}))

        try:
            answer = await brain.ask(prompt, caller=caller, idempotency_key=key, on_delta=on_delta)
            await emit(_sse("done", answer.as_dict()))
        except EchoBrainError as exc:
            await emit(_sse("error", {"error": error_fields(exc)}))

    return relay(produce)
