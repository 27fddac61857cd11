"""Server-sent events: run a producer in a task and yield what it emits, as it emits it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from api.errors import describe

log = logging.getLogger(__name__)

Emit = Callable[[str], Awaitable[None]]


async def relay(produce: Callable[[Emit], Awaitable[None]]) -> AsyncIterator[str]:
    """Yield each string `produce` emits; a client that goes away cancels the producer.

    The producer task is always awaited: whatever it raised is logged, never lost.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def run() -> None:
        try:
            await produce(queue.put)
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    try:
        while (item := await queue.get()) is not None:
            yield item
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await task
            except Exception:
                log.exception("a stream's producer failed")


def error_fields(exc: Exception) -> dict[str, Any]:
    """The error body's fields, for an error that happens after the stream began.

    A domain error says what it is; anything else is logged with its traceback and
    reported as an internal error (no details reach the client).
    """
    status, code, message, message_ko = describe(exc)
    return {"status": status, "code": code, "message": message, "message_ko": message_ko}
