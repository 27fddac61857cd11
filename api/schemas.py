"""Request and response models, and the documented error answers.

What the schema says is what the routes check: a prompt must hold a non-space character
(`pattern`), so a whitespace-only prompt is a 422 the OpenAPI document announces.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

NOT_BLANK = r"\S"  # JSON Schema patterns are unanchored: at least one non-space character


class AskRequest(BaseModel):
    """Body of POST /api/ask."""

    model_config = ConfigDict(extra="ignore")

    prompt: StrictStr = Field(
        description="What the origin says / 오리진의 말", min_length=1, pattern=NOT_BLANK
    )
    stream: StrictBool = Field(False, description="Answer as server-sent events")


class ChatMessage(BaseModel):
    """One message; content as a string or OpenAI text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """Body of POST /v1/chat/completions (the fields Echo Brain uses)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=65_536)
    max_completion_tokens: int | None = Field(None, ge=1, le=65_536)
    temperature: float | None = Field(None, ge=0, le=2)


class ErrorDetail(BaseModel):
    """What went wrong, in English and Korean."""

    code: str
    message: str
    message_ko: str
    type: str | None = None
    param: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {...}}`."""

    error: ErrorDetail


ERROR_MEANINGS = {
    401: "A missing or wrong token / 토큰이 없거나 틀림",
    403: "Origin only / 오리진 전용",
    404: "Not found / 없음",
    409: "The project exists already / 이미 있는 프로젝트",
    413: "Prompt or body too large / 너무 큼",
    422: "Invalid request / 잘못된 요청",
    429: "A circuit's queue is full (Retry-After) / 회로 대기열이 가득 참",
    503: "No circuit ready yet (Retry-After) / 준비된 회로 없음",
    507: "The project could not be written / 프로젝트를 쓰지 못함",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for some error statuses, each with the error body."""
    return {s: {"model": ErrorBody, "description": ERROR_MEANINGS[s]} for s in statuses}


def stream_response(description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a 200 that is JSON, or server-sent events when `stream` is true."""
    return {
        200: {
            "description": description,
            "content": {
                "application/json": {},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        }
    }
