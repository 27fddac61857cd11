"""The conversation: POST /api/ask."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import BrainDep, CallerDep, IdempotencyKey
from api.schemas import AskRequest, error_responses, stream_response
from api.sse import Emit, error_fields, relay
from core.echo_brain import EchoBrain
from core.origin import Caller

router = APIRouter(prefix="/api", tags=["conversation"])

RESPONSES = {
    **stream_response("The answer: a JSON document, or events when `stream` is true"),
    201: {"description": "A project was created (kind: create) / 프로젝트를 만들었습니다"},
    **error_responses(401, 403, 409, 413, 422, 429, 503, 507),
}


@router.post("/ask", response_model=None, responses=RESPONSES)
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
    """`delta` events {circuit, text} as tokens arrive, then one `done` (or `error`) event."""

    async def produce(emit: Emit) -> None:
        async def on_delta(circuit: str, text: str) -> None:
            await emit(_sse("delta", {"circuit": circuit, "text": text}))

        try:
            answer = await brain.ask(prompt, caller=caller, idempotency_key=key, on_delta=on_delta)
            await emit(_sse("done", answer.as_dict()))
        except Exception as exc:  # any failure ends the stream with an error event (and a log)
            await emit(_sse("error", {"error": error_fields(exc)}))

    return relay(produce)
