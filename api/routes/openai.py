"""OpenAI-compatible routes: `/v1/models` and `/v1/chat/completions` (streaming and not)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import BrainDep, CallerDep, IdempotencyKey
from api.schemas import ChatRequest, stream_response
from api.sse import Emit, error_fields, relay
from core.echo_brain import Answer, AskOptions, EchoBrain
from core.errors import BadInput, NotFound
from core.merge import MERGE_ORDER
from core.origin import Caller
from core.settings import CIRCUIT_NAMES
from llm.circuit import CircuitResult

router = APIRouter(prefix="/v1", tags=["openai"])

MODEL_IDS: tuple[str, ...] = ("echo-brain", *CIRCUIT_NAMES)


@router.get("/models")
async def list_models(brain: BrainDep, caller: CallerDep) -> dict[str, Any]:
    """`echo-brain` (fan-out + merge) and each circuit alone that answers this caller (an
    origin-only circuit, such as the origin's own model, is listed to the origin only)."""
    created = 1_700_000_000
    circuits = brain.circuits
    ids = [m for m in MODEL_IDS
           if m not in circuits or circuits[m].serves(caller.is_origin)]
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": created, "owned_by": "echo-brain"}
            for m in ids
        ],
    }


@router.post("/chat/completions", response_model=None, responses=stream_response("A completion"))
async def chat_completions(
    body: ChatRequest, brain: BrainDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse | StreamingResponse:
    """Chat with `echo-brain` (all circuits, merged) or one circuit."""
    prompt, options = _to_request(body)
    brain.check_prompt(prompt)
    brain.authorize(prompt, caller)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.stream:
        stream = _stream(brain, prompt, caller, idempotency_key, options, body.model, completion_id)
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    answer = await brain.ask(
        prompt, caller=caller, idempotency_key=idempotency_key, options=options
    )
    return JSONResponse(_completion(answer, body.model, completion_id))


def _to_request(body: ChatRequest) -> tuple[str, AskOptions]:
    if body.model not in MODEL_IDS:
        raise NotFound(
            f"model {body.model!r} does not exist; use one of {', '.join(MODEL_IDS)}",
            f"{body.model!r} 모델은 없습니다. 다음 중 하나를 쓰세요: {', '.join(MODEL_IDS)}",
        )
    last = body.messages[-1]
    if last.role != "user" or not last.text().strip():
        raise BadInput(
            "the last message must be a non-empty user message",
            "마지막 메시지는 비어 있지 않은 user 메시지여야 합니다.",
        )
    system = "\n".join(m.text() for m in body.messages if m.role in ("system", "developer"))
    history = tuple(
        {"role": m.role, "content": m.text()}
        for m in body.messages[:-1]
        if m.role in ("user", "assistant")
    )
    names = CIRCUIT_NAMES if body.model == "echo-brain" else (body.model,)
    options = AskOptions(
        names=names,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        system=system or None,
        history=history,
    )
    return last.text(), options


def _completion(answer: Answer, model: str, completion_id: str) -> dict[str, Any]:
    tokens = sum(r.tokens for r in answer.circuits.values())
    prompt_tokens = sum(r.prompt_tokens for r in answer.circuits.values())
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": answer.reply},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": prompt_tokens + tokens,
        },
        "echo_brain": {k: v for k, v in answer.as_dict().items() if k != "reply"},
    }


def _chunk(completion_id: str, model: str, delta: dict[str, str], finish: str | None) -> str:
    doc = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(doc, ensure_ascii=False)}\n\n"


class OrderedText:
    """Streams circuit deltas in merge order: the current circuit live, the others buffered."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.order = [n for n in MERGE_ORDER if n in names]
        self.buffers: dict[str, list[str]] = {n: [] for n in self.order}
        self.finished: set[str] = set()
        self.current = 0
        self.emitted = False

    def delta(self, name: str, text: str) -> list[str]:
        """Text to send now for a delta of `name`."""
        if self.current < len(self.order) and name == self.order[self.current]:
            return self._emit([text])
        self.buffers[name].append(text)
        return []

    def finish(self, name: str) -> list[str]:
        """Text to send now that `name` is done."""
        self.finished.add(name)
        out: list[str] = []
        while self.current < len(self.order) and self.order[self.current] in self.finished:
            self.current += 1
            if self.current < len(self.order):
                pending = self.buffers[self.order[self.current]]
                out += self._emit((["\n\n"] if self.emitted and pending else []) + pending)
        return out

    def _emit(self, texts: list[str]) -> list[str]:
        texts = [t for t in texts if t]
        self.emitted = self.emitted or bool(texts)
        return texts


def _stream(
    brain: EchoBrain,
    prompt: str,
    caller: Caller,
    key: str | None,
    options: AskOptions,
    model: str,
    completion_id: str,
) -> AsyncIterator[str]:
    ordered = OrderedText(options.names)
    live = brain.settings.merge == "concat" or len(options.names) == 1

    async def produce(emit: Emit) -> None:
        async def send(texts: list[str]) -> None:
            for text in texts:
                await emit(_chunk(completion_id, model, {"content": text}, None))

        async def on_delta(name: str, text: str) -> None:
            await send(ordered.delta(name, text))

        async def on_done(name: str, _: CircuitResult) -> None:
            await send(ordered.finish(name))

        await emit(_chunk(completion_id, model, {"role": "assistant", "content": ""}, None))
        try:
            answer = await brain.ask(
                prompt,
                caller=caller,
                idempotency_key=key,
                options=options,
                on_delta=on_delta if live else None,
                on_done=on_done if live else None,
            )
            if not ordered.emitted and answer.reply:
                await send([answer.reply])
            await emit(_chunk(completion_id, model, {}, "stop"))
        except Exception as exc:  # any failure ends the stream with an error event and [DONE]
            error = {**error_fields(exc), "type": "server_error"}
            await emit(f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n")
        await emit("data: [DONE]\n\n")

    return relay(produce)
