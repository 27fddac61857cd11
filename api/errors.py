"""The one place that maps domain errors to HTTP status codes and the JSON error body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import errors

log = logging.getLogger(__name__)
INTERNAL_KO = "내부 오류입니다. 서버 로그를 보세요."
BAD_JSON = ("the body is not valid JSON (UTF-8)", "요청 본문이 올바른 JSON(UTF-8)이 아닙니다.")

STATUS: dict[type[errors.EchoBrainError], int] = {
    errors.BadInput: 422,
    errors.PromptTooLong: 413,
    errors.NotReady: 503,
    errors.CircuitBusy: 429,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.NotFound: 404,
    errors.ProjectWriteError: 507,
}


def error_response(
    status: int, code: str, message: str, message_ko: str, *, retry_after: int | None = None
) -> JSONResponse:
    """`{"error": {"code", "message", "message_ko"}}` with the right headers."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {
        "error": {
            "code": code,
            "message": message,
            "message_ko": message_ko,
            "type": kind,
            "param": None,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def body_too_large() -> JSONResponse:
    """The 413 answer to a request body over 1 MiB."""
    return error_response(
        413, "too_large", "the request body is over 1 MiB", "요청 본문이 1 MiB를 넘습니다."
    )


def status_of(exc: errors.EchoBrainError) -> int:
    """The HTTP status of a domain error."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def describe(exc: Exception) -> tuple[int, str, str, str]:
    """(status, code, message, message_ko) of any exception; an unexpected one is logged."""
    if isinstance(exc, errors.EchoBrainError):
        return status_of(exc), exc.code, exc.message, exc.message_ko
    log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return 500, "internal", "internal error; see the server log", INTERNAL_KO


def describe_validation(exc: RequestValidationError) -> tuple[str, str]:
    """A short English and Korean summary of what is wrong with the request body."""
    problems = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return BAD_JSON
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    detail = "; ".join(problems) or "invalid request"
    return (f"invalid request: {detail}", f"요청이 올바르지 않습니다: {detail}")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers: no stack trace ever reaches a client."""

    @app.exception_handler(errors.EchoBrainError)
    async def _domain(_: Request, exc: errors.EchoBrainError) -> JSONResponse:
        return error_response(
            status_of(exc), exc.code, exc.message, exc.message_ko, retry_after=exc.retry_after
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, message_ko = describe_validation(exc)
        return error_response(422, "bad_input", message, message_ko)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8)
            return error_response(422, "bad_input", *BAD_JSON)
        if exc.status_code == 404:
            return error_response(404, "not_found", "no such route", "없는 경로입니다.")
        if exc.status_code == 405:
            return error_response(
                405, "method_not_allowed", "method not allowed", "허용되지 않는 메서드입니다."
            )
        if exc.status_code == 413:
            return body_too_large()
        return error_response(exc.status_code, "http_error", str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(*describe(exc))
